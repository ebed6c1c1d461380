//! What the domain refuses, and why, by area. Every error has a stable [`ErrorCode`] (defined
//! here, in [`Error::code`], and nowhere else) and sometimes machine-readable details; adapters
//! (the HTTP API, sync outcomes, the assistant's tools) turn them into their own shapes without
//! looking inside the message.

use protocol::{AvailableSlot, Booking, ErrorCode, HoursProblem, StaffId};
use serde_json::{json, Value};

use crate::store::StoreError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Well-formed but not acceptable (`validation_failed`).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    InvalidPhone(String),
    /// Not in the caller's business — which is also what another business's ids look like.
    #[error("No such {0}.")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    /// A unique key refused the write and no more specific reason applies.
    #[error("Something with these details already exists.")]
    AlreadyExists,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error(transparent)]
    Takeover(#[from] TakeoverError),
    #[error(transparent)]
    Send(#[from] SendRefusal),
    #[error(transparent)]
    Media(#[from] MediaRefusal),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The service is stopping; the caller retries.
    #[error("The service is restarting; please retry.")]
    ShuttingDown,
    /// Our fault: logged with its cause, never shown.
    #[error("storage: {0}")]
    Store(#[source] StoreError),
    #[error("internal: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("The email or password is not right.")]
    InvalidCredentials,
    /// The signed-in person's own password, given again, is not right.
    #[error("That password is not right.")]
    WrongPassword,
    #[error("This account has been deactivated by the business.")]
    Deactivated,
    #[error("This sign-in has ended; please sign in again.")]
    SessionRevoked,
    #[error("The access token is not valid.")]
    InvalidToken,
    #[error("Your access token has expired; refresh it or sign in again.")]
    TokenExpired,
    #[error("This sign-in is not valid; please sign in again.")]
    InvalidRefreshToken,
    #[error("This sign-in was used twice, so it has been ended for safety; please sign in again.")]
    RefreshTokenReused,
    #[error("This sign-in has expired; please sign in again.")]
    RefreshTokenExpired,
    #[error("An account with this email already exists. Sign in instead.")]
    EmailTaken,
    #[error("A business needs at least one active owner.")]
    LastOwner,
    #[error("This invitation is not valid or was already used.")]
    InvitationInvalid,
    #[error("This invitation has expired; ask for a new one.")]
    InvitationExpired,
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Enter the code from your authenticator app.")]
    TwoFactorRequired { challenge: String },
    #[error("This business requires two-factor sign-in: set up an authenticator app to go on.")]
    TwoFactorEnrolmentRequired { challenge: String },
    #[error("That code is not right, was already used, or has expired.")]
    InvalidCode,
    #[error("For your safety, confirm your password (or a code) again before doing this.")]
    ReauthenticationRequired,
    #[error("This link is not valid or was already used.")]
    LinkInvalid,
    #[error("This link has expired; ask for a new one.")]
    LinkExpired,
    #[error("Two-factor sign-in is already on.")]
    TwoFactorAlreadyEnabled,
    #[error("Two-factor sign-in is not on.")]
    TwoFactorNotEnabled,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("Another customer already has this phone number or WhatsApp id.")]
    CustomerExists,
    #[error("That shortcut is already used by another canned response.")]
    ShortcutTaken,
    #[error("That template is already recorded in this language.")]
    TemplateExists,
    #[error("{0} is already connected to another business.")]
    AddressInUse(String),
    #[error("There is already an exception for that day.")]
    ExceptionExists,
}

/// Why a time cannot be booked, or a booking cannot change.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("That time has just been taken. Here are the nearest free times.")]
    SlotTaken { alternatives: Vec<AvailableSlot> },
    #[error("That time is outside opening or working hours.")]
    OutsideHours { alternatives: Vec<AvailableSlot> },
    #[error("Appointments start every {interval_minutes} minutes; pick one of the times offered.")]
    NotOnGrid { interval_minutes: u32, alternatives: Vec<AvailableSlot> },
    #[error("That time is too soon to book.")]
    TooSoon { alternatives: Vec<AvailableSlot> },
    #[error("That time is too far ahead to book.")]
    TooFarAhead { alternatives: Vec<AvailableSlot> },
    #[error("{time} does not exist in {zone}: the clocks skip it. Choose another time.")]
    NonexistentTime { time: String, zone: String },
    #[error("{time} happens twice in {zone} (the clocks go back). Send the instant with its offset.")]
    AmbiguousTime { time: String, zone: String, instants: Vec<String> },
    #[error("`{0}` is not a time from 1970 to 2999. Use 2026-03-09T09:00 (local) or 2026-03-09T13:00:00Z.")]
    InvalidTime(String),
    /// A time whose zone in brackets is none, or has no such offset then (`invalid_time` too).
    #[error("`{0}` names no time zone, or an offset its zone does not have then. Write the zone like 2026-03-09T09:00[Europe/London], or leave it out.")]
    InvalidZone(String),
    #[error("{0}")]
    InvalidRange(String),
    /// Every problem found, in words; the message is all of them.
    #[error("{}", problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join(" "))]
    InvalidHours { problems: Vec<HoursProblem> },
    #[error("No such customer.")]
    UnknownCustomer,
    #[error("{0}")]
    UnknownService(String),
    #[error("That service is not offered at the moment.")]
    ServiceInactive,
    #[error("No such staff member.")]
    UnknownStaff,
    /// Someone who no longer works here (deactivated): their bookings stay theirs until moved.
    #[error("{name} is no longer active here (the account was deactivated); choose someone else.")]
    StaffInactive { name: String },
    #[error("That staff member does not do this service.")]
    StaffCannotPerform,
    #[error("{0}")]
    InvalidTransition(String),
    #[error("The booking was changed by someone else; here is how it is now.")]
    VersionConflict { current: Box<Booking> },
}

#[derive(Debug, thiserror::Error)]
pub enum TakeoverError {
    #[error("{holder_name} is handling this conversation.")]
    AlreadyHeld { holder: StaffId, holder_name: String },
    #[error("{name} is no longer on the staff; assign the conversation to someone else.")]
    AssigneeInactive { name: String },
}

/// Why a message cannot be sent (nothing was sent).
#[derive(Debug, thiserror::Error)]
pub enum SendRefusal {
    #[error("The customer has opted out of messages on this channel; nothing was sent.")]
    CustomerOptedOut,
    #[error("Connect {0} in Settings → Channels first.")]
    ChannelNotConfigured(&'static str),
    #[error("More than 24 hours have passed since the customer last wrote, so WhatsApp only allows an approved template.")]
    WhatsappWindowClosed,
    #[error("This is a phone call; reply on WhatsApp or SMS instead.")]
    CannotReplyHere,
    #[error("This sender is a short code or a name, not a phone: it takes no replies, so nothing was sent.")]
    SenderTakesNoReplies,
    #[error("No such template.")]
    UnknownTemplate,
    #[error("That saved reply no longer exists.")]
    UnknownCannedResponse,
}

/// A file the conversation's channel does not take (nothing was sent).
#[derive(Debug, thiserror::Error)]
pub enum MediaRefusal {
    #[error("This file is {} MB; {} takes files up to {} MB.", mb_up(.size), channel_name(.channel), mb(.limit_bytes))]
    TooLarge { channel: protocol::Channel, size: u64, limit_bytes: u64 },
    #[error("{} does not take this kind of file ({content_type}). It takes: {}.", channel_name(.channel), .allowed.join(", "))]
    TypeNotAllowed { channel: protocol::Channel, content_type: String, allowed: Vec<&'static str> },
    #[error("No channel takes this kind of file ({content_type}). Files that can be sent: {}.", .allowed.join(", "))]
    NoChannelTakes { content_type: String, allowed: Vec<&'static str> },
}

fn mb(bytes: &u64) -> String {
    let mb = *bytes as f64 / (1024.0 * 1024.0);
    if mb >= 10.0 {
        format!("{mb:.0}")
    } else {
        format!("{mb:.1}")
    }
}

/// A file's size in MB, rounded up (a file just over a limit never reads as equal to it).
fn mb_up(bytes: &u64) -> String {
    let tenths = (*bytes as f64 / (1024.0 * 1024.0) * 10.0).ceil();
    if tenths >= 100.0 {
        format!("{:.0}", (tenths / 10.0).ceil())
    } else {
        format!("{:.1}", tenths / 10.0)
    }
}

fn channel_name(channel: &protocol::Channel) -> &'static str {
    match channel {
        protocol::Channel::Whatsapp => "WhatsApp",
        protocol::Channel::TwilioWhatsapp => "WhatsApp (Twilio)",
        protocol::Channel::Sms => "SMS/MMS",
        protocol::Channel::Voice => "A phone call",
    }
}

/// A webhook refused before anything was stored.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("The {0} header is missing.")]
    MissingSignature(&'static str),
    #[error("The webhook signature does not match.")]
    InvalidSignature,
    #[error("The webhook signature is too old.")]
    StaleSignature,
    #[error("{0}")]
    InvalidPayload(String),
    #[error("The verify token does not match any WhatsApp set-up.")]
    InvalidVerifyToken,
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("This device has been offline too long to catch up; it will reload everything.")]
    ResyncRequired { horizon: i64 },
    #[error("{0}")]
    InvalidCursor(&'static str),
    #[error("There is no mutation called `{0}`.")]
    UnknownMutation(String),
}

/// Google Calendar: connecting, and the tasks outside changes become.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("Google Calendar is not set up on this service (SWITCHBOARD_GOOGLE_CLIENT_ID).")]
    NotConfigured,
    #[error("This person has not connected a Google Calendar.")]
    NotConnected,
    #[error("This sign-in with Google was not started here, was already used, or took too long; start again.")]
    InvalidState,
    #[error("Google refused: {0}")]
    Refused(String),
    #[error("Google could not be reached: {0}. Try again in a moment.")]
    Unavailable(String),
    #[error("This task was already {0}.")]
    TaskResolved(&'static str),
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Internal(Box::new(e))
    }

    /// The stable code: the one mapping from errors to codes.
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Error::Invalid(_) => C::ValidationFailed,
            Error::InvalidPhone(_) => C::InvalidPhone,
            Error::NotFound(_) => C::NotFound,
            Error::Forbidden(_) => C::Forbidden,
            Error::AlreadyExists => C::AlreadyExists,
            Error::Account(e) => match e {
                AccountError::InvalidCredentials | AccountError::WrongPassword => C::InvalidCredentials,
                AccountError::Deactivated => C::AccountDeactivated,
                AccountError::SessionRevoked => C::SessionRevoked,
                AccountError::InvalidToken => C::InvalidToken,
                AccountError::TokenExpired => C::TokenExpired,
                AccountError::InvalidRefreshToken => C::InvalidRefreshToken,
                AccountError::RefreshTokenReused => C::RefreshTokenReused,
                AccountError::RefreshTokenExpired => C::RefreshTokenExpired,
                AccountError::EmailTaken => C::EmailTaken,
                AccountError::LastOwner => C::LastOwner,
                AccountError::InvitationInvalid => C::InvitationInvalid,
                AccountError::InvitationExpired => C::InvitationExpired,
                AccountError::RateLimited { .. } => C::RateLimited,
                AccountError::TwoFactorRequired { .. } => C::TwoFactorRequired,
                AccountError::TwoFactorEnrolmentRequired { .. } => C::TwoFactorEnrolmentRequired,
                AccountError::InvalidCode => C::InvalidCode,
                AccountError::ReauthenticationRequired => C::ReauthenticationRequired,
                AccountError::LinkInvalid => C::LinkInvalid,
                AccountError::LinkExpired => C::LinkExpired,
                AccountError::TwoFactorAlreadyEnabled => C::TwoFactorAlreadyEnabled,
                AccountError::TwoFactorNotEnabled => C::TwoFactorNotEnabled,
            },
            Error::Catalog(e) => match e {
                CatalogError::CustomerExists => C::CustomerExists,
                CatalogError::ShortcutTaken => C::ShortcutTaken,
                CatalogError::TemplateExists => C::TemplateExists,
                CatalogError::AddressInUse(_) => C::AddressInUse,
                CatalogError::ExceptionExists => C::ExceptionExists,
            },
            Error::Booking(e) => match e {
                BookingError::SlotTaken { .. } => C::SlotTaken,
                BookingError::OutsideHours { .. } => C::OutsideHours,
                BookingError::NotOnGrid { .. } => C::NotOnGrid,
                BookingError::TooSoon { .. } => C::TooSoon,
                BookingError::TooFarAhead { .. } => C::TooFarAhead,
                BookingError::NonexistentTime { .. } => C::NonexistentTime,
                BookingError::AmbiguousTime { .. } => C::AmbiguousTime,
                BookingError::InvalidTime(_) | BookingError::InvalidZone(_) => C::InvalidTime,
                BookingError::InvalidRange(_) => C::InvalidRange,
                BookingError::InvalidHours { .. } => C::InvalidHours,
                BookingError::UnknownCustomer => C::UnknownCustomer,
                BookingError::UnknownService(_) => C::UnknownService,
                BookingError::ServiceInactive => C::ServiceInactive,
                BookingError::UnknownStaff => C::UnknownStaff,
                BookingError::StaffInactive { .. } => C::StaffInactive,
                BookingError::StaffCannotPerform => C::StaffCannotPerform,
                BookingError::InvalidTransition(_) => C::InvalidTransition,
                BookingError::VersionConflict { .. } => C::VersionConflict,
            },
            Error::Takeover(TakeoverError::AlreadyHeld { .. }) => C::AlreadyHeld,
            Error::Takeover(TakeoverError::AssigneeInactive { .. }) => C::StaffInactive,
            Error::Send(e) => match e {
                SendRefusal::CustomerOptedOut => C::CustomerOptedOut,
                SendRefusal::ChannelNotConfigured(_) => C::ChannelNotConfigured,
                SendRefusal::WhatsappWindowClosed => C::WhatsappWindowClosed,
                SendRefusal::CannotReplyHere | SendRefusal::SenderTakesNoReplies => C::CannotReplyHere,
                SendRefusal::UnknownTemplate => C::UnknownTemplate,
                SendRefusal::UnknownCannedResponse => C::UnknownCannedResponse,
            },
            Error::Media(MediaRefusal::TooLarge { .. }) => C::MediaTooLarge,
            Error::Media(MediaRefusal::TypeNotAllowed { .. } | MediaRefusal::NoChannelTakes { .. }) => C::MediaTypeNotAllowed,
            Error::Webhook(e) => match e {
                WebhookError::MissingSignature(_) => C::MissingSignature,
                WebhookError::InvalidSignature => C::InvalidSignature,
                WebhookError::StaleSignature => C::StaleSignature,
                WebhookError::InvalidPayload(_) => C::InvalidPayload,
                WebhookError::InvalidVerifyToken => C::InvalidVerifyToken,
                WebhookError::UnsupportedMediaType(_) => C::UnsupportedMediaType,
            },
            Error::Sync(e) => match e {
                SyncError::ResyncRequired { .. } => C::ResyncRequired,
                SyncError::InvalidCursor(_) => C::InvalidCursor,
                SyncError::UnknownMutation(_) => C::UnknownMutation,
            },
            Error::Calendar(e) => match e {
                CalendarError::NotConfigured => C::CalendarNotConfigured,
                CalendarError::NotConnected => C::CalendarNotConnected,
                CalendarError::InvalidState => C::InvalidOauthState,
                CalendarError::Refused(_) => C::GoogleRefused,
                CalendarError::Unavailable(_) => C::GoogleUnavailable,
                CalendarError::TaskResolved(_) => C::TaskResolved,
            },
            Error::ShuttingDown => C::ShuttingDown,
            Error::Store(_) | Error::Internal(_) => C::Internal,
        }
    }

    /// Machine-readable context for the codes that carry some.
    pub fn details(&self) -> Option<Value> {
        let slots = |alternatives: &Vec<AvailableSlot>| Some(json!({ "alternatives": alternatives }));
        match self {
            Error::Booking(e) => match e {
                BookingError::SlotTaken { alternatives }
                | BookingError::OutsideHours { alternatives }
                | BookingError::NotOnGrid { alternatives, .. }
                | BookingError::TooSoon { alternatives }
                | BookingError::TooFarAhead { alternatives } => slots(alternatives),
                BookingError::AmbiguousTime { instants, .. } => Some(json!({ "instants": instants })),
                BookingError::InvalidHours { problems } => Some(json!({ "problems": problems })),
                BookingError::VersionConflict { current } => Some(json!({ "current": current })),
                _ => None,
            },
            Error::Takeover(TakeoverError::AlreadyHeld { holder, holder_name }) => {
                Some(json!({ "holder_staff_id": holder, "holder_name": holder_name }))
            }
            Error::Sync(SyncError::ResyncRequired { horizon }) => Some(json!({ "horizon": horizon })),
            Error::Media(MediaRefusal::TooLarge { channel, size, limit_bytes }) => {
                Some(json!({ "channel": channel, "size": size, "limit_bytes": limit_bytes }))
            }
            Error::Media(MediaRefusal::TypeNotAllowed { channel, content_type, allowed }) => {
                Some(json!({ "channel": channel, "content_type": content_type, "allowed": allowed }))
            }
            Error::Media(MediaRefusal::NoChannelTakes { content_type, allowed }) => Some(json!({ "content_type": content_type, "allowed": allowed })),
            Error::Account(AccountError::TwoFactorRequired { challenge } | AccountError::TwoFactorEnrolmentRequired { challenge }) => {
                Some(json!({ "challenge": challenge }))
            }
            _ => None,
        }
    }

    /// Our fault rather than the caller's (logged; the caller may retry).
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Store(_) | Error::Internal(_))
    }

    /// The whole chain of causes, for logs.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        if e.is_unique_violation() {
            return Error::AlreadyExists;
        }
        Error::Store(e)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Store(StoreError::from(e))
    }
}
