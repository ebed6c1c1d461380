//! Scheduling: when the business and its people work, what can be booked, and the bookings.

pub mod availability;
