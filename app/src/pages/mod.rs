//! One module per page.

pub mod chart;
pub mod landing;
pub mod not_found;
