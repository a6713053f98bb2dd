//! Pieces shared by several pages.

pub mod chart;
pub mod top_bar;
