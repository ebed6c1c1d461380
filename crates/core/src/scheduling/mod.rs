//! Scheduling: when the business and its people work ([`hours`]), which times are free
//! ([`availability`], a pure engine), the bookings ([`bookings`]: the only way anything books)
//! the iCalendar feeds staff subscribe to ([`feeds`]) and Google Calendar both ways ([`google`]).

pub mod availability;
pub mod bookings;
pub mod feeds;
pub mod google;
pub mod hours;
