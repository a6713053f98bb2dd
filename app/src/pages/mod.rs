//! One module per page.

pub mod account;
pub mod alerts;
pub mod auth;
pub mod billing;
pub mod chart;
pub mod charts;
pub mod features;
pub mod landing;
pub mod markets;
pub mod news;
pub mod not_found;
pub mod pricing;
pub mod scripts;
