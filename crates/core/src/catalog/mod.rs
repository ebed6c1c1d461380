//! What the business offers: services (what can be booked) and canned responses (what staff
//! often write).

pub mod canned;
pub mod services;
