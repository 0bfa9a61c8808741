//! The HTTP side every service shares: one accept loop ([`serve`]) with its limits, the
//! request body it hands to routers ([`RequestBody`], with a deadline), and replies in
//! the one JSON shape (`{"success":false,"error":code,"message":..}`) for every error.

mod body;
mod reply;
mod server;

pub use body::{BodyError, RequestBody};
pub use reply::{error_response, json, ApiError, Body};
pub use server::{serve, HttpConfig, Router};
