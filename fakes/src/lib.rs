//! Local fakes of the outside services InChart talks to, for tests,
//! benchmarks and offline development. Each fake listens on 127.0.0.1,
//! speaks its service's real wire format, and lets the caller steer it
//! (clock, data, faults) and observe what clients did.

pub mod binance;
pub mod marketaux;
mod seeded;
pub mod smtp;
pub mod stripe;
