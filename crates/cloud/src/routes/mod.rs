//! The API's routes, one module per area of the core — and one per provider ([`whatsapp`],
//! [`twilio`], [`vapi`], [`retell`]: its set-up and its webhooks). Handlers only extract, call the
//! core and shape the answer.

pub mod accounts;
pub mod automations;
pub mod bookings;
pub mod business;
pub mod calendar_feeds;
pub mod canned_responses;
pub mod channels;
pub mod control;
pub mod conversations;
pub mod customers;
pub mod google_calendar;
pub mod live;
pub mod media;
pub mod outbox;
pub mod privacy;
pub mod reports;
pub mod retell;
pub mod schedule;
pub mod security;
pub mod services;
pub mod setup;
pub mod staff;
pub mod sync;
pub mod twilio;
pub mod vapi;
pub mod webhook_events;
pub mod whatsapp;
