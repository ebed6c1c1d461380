//! Scheduling: when the business and its people work ([`hours`]), which times are free
//! ([`availability`], a pure engine), the bookings ([`bookings`]: the only way anything books)
//! and the iCalendar feeds staff subscribe to ([`feeds`]).

pub mod availability;
pub mod bookings;
pub mod feeds;
pub mod hours;
