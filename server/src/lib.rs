//! The InChart server as a library, so that tests start it exactly as the
//! `inchart` binary does ([`startup::Application::build`]).

pub mod auth;
pub mod billing;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod market;
pub mod metrics;
pub mod news;
pub mod scripts;
pub mod site;
pub mod startup;
pub mod telemetry;
