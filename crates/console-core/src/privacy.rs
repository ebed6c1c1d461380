//! The signed-in person's account security and the business's data protection, as the console
//! asks the service for them: re-authentication, password change, two-factor enrolment (with its
//! QR code made here) and its removal, the business's require-two-factor switch and a colleague's
//! reset; a customer's export (the ZIP, handed to the UI to save) and erasure; the retention
//! policy and its dry run.
//!
//! None of it goes through the outbox: these are answers only the service can give, and the
//! sensitive ones need a fresh re-authentication that only the service can check. Offline, each
//! fails as `offline` and the UI says that a re-authentication needs the network.

use base64::Engine as _;
use protocol::{AccountSecurity, RecoveryCodes, RetentionPlan, RetentionPolicy, SecuritySettings, TwoFactorSetup};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;

use crate::{Console, ConsoleError, TransportError};

/// A new authenticator secret: typed in, or scanned from `qr_svg` (the `otpauth://` link as a
/// QR code, an SVG drawing made on this computer so the secret goes nowhere else).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TwoFactorEnrolment {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// A customer's export, to save as a file.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CustomerExport {
    pub file_name: String,
    /// The ZIP, base64.
    pub zip_base64: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Who to export: by id, phone or email (as the service finds them).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ExportWho {
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

fn unexpected(e: serde_json::Error) -> ConsoleError {
    ConsoleError::Transport(TransportError::Server(format!("the service answered something unexpected: {e}")))
}

async fn call<T: serde::de::DeserializeOwned>(console: &Console, method: Method, path: &str, body: Option<Value>) -> Result<T, ConsoleError> {
    let answer = console.transport()?.request_json(method, path, &[], body.as_ref()).await?;
    serde_json::from_value(answer).map_err(unexpected)
}

/// How the signed-in person's account is protected.
pub async fn security(console: &Console) -> Result<AccountSecurity, ConsoleError> {
    call(console, Method::GET, "/v1/me/security", None).await
}

/// Proves it is still this person (the password, or a current code when two-factor is on):
/// export, erase, two-factor changes, a colleague's reset and the require switch then work for
/// a few minutes.
pub async fn reauthenticate(console: &Console, password: Option<String>, code: Option<String>) -> Result<(), ConsoleError> {
    let body = protocol::ReauthenticateRequest { password: password.filter(|p| !p.is_empty()), code: code.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) };
    console.transport()?.request_json(Method::POST, "/v1/me/reauthenticate", &[], Some(&json!(body))).await?;
    Ok(())
}

/// A new password; the service ends every other session of the account (this one stays).
pub async fn change_password(console: &Console, current_password: String, new_password: String) -> Result<(), ConsoleError> {
    let body = protocol::ChangePasswordRequest { current_password, new_password };
    console.transport()?.request_json(Method::POST, "/v1/me/password", &[], Some(&json!(body))).await?;
    Ok(())
}

/// Starts two-factor enrolment: a new secret and its QR code.
pub async fn begin_two_factor(console: &Console) -> Result<TwoFactorEnrolment, ConsoleError> {
    let setup: TwoFactorSetup = call(console, Method::POST, "/v1/me/two-factor", None).await?;
    let qr_svg = qr_svg(&setup.otpauth_url);
    Ok(TwoFactorEnrolment { secret: setup.secret, otpauth_url: setup.otpauth_url, qr_svg })
}

/// Finishes enrolment with a code from the app: the recovery codes, shown this once.
pub async fn confirm_two_factor(console: &Console, code: String) -> Result<RecoveryCodes, ConsoleError> {
    call(console, Method::POST, "/v1/me/two-factor/confirm", Some(json!({"code": code.trim()}))).await
}

/// Turns two-factor sign-in off (needs a fresh re-authentication).
pub async fn disable_two_factor(console: &Console) -> Result<(), ConsoleError> {
    console.transport()?.request_json(Method::DELETE, "/v1/me/two-factor", &[], None).await?;
    Ok(())
}

pub async fn security_settings(console: &Console) -> Result<SecuritySettings, ConsoleError> {
    call(console, Method::GET, "/v1/security-settings", None).await
}

/// The owner's switch: everyone signs in with a second factor (needs a fresh re-authentication).
pub async fn require_two_factor(console: &Console, require: bool) -> Result<SecuritySettings, ConsoleError> {
    call(console, Method::PUT, "/v1/security-settings", Some(json!({"require_two_factor": require}))).await
}

/// A colleague lost their device or password: their two-factor is turned off, their sessions
/// end, and a one-time link to set a new password is mailed or returned to hand over.
pub async fn reset_staff_member(console: &Console, staff_id: &str) -> Result<protocol::Handover, ConsoleError> {
    call(console, Method::POST, &format!("/v1/staff/{staff_id}/reset-sign-in"), None).await
}

/// Everything the service holds about one customer, as a ZIP to save.
pub async fn export_customer(console: &Console, who: &ExportWho) -> Result<CustomerExport, ConsoleError> {
    let mut query = Vec::new();
    query.extend(who.customer_id.clone().map(|v| ("id", v)));
    query.extend(who.phone.clone().map(|v| ("phone", v)));
    query.extend(who.email.clone().map(|v| ("email", v)));
    let zip = console.transport()?.get_bytes("/v1/customer-export", &query).await?;
    let name = who.customer_id.as_deref().or(who.phone.as_deref()).or(who.email.as_deref()).unwrap_or("customer");
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    Ok(CustomerExport { file_name: format!("customer-{name}.zip"), bytes: zip.len() as u64, zip_base64: base64::engine::general_purpose::STANDARD.encode(&zip) })
}

/// Erases a customer on the service (needs a fresh re-authentication); this console's mirror
/// drops them with the sync the caller starts next. → what was removed, by table.
pub async fn erase_customer(console: &Console, customer_id: &str) -> Result<Value, ConsoleError> {
    Ok(console.transport()?.request_json(Method::POST, &format!("/v1/customers/{customer_id}/erase"), &[], None).await?)
}

pub async fn retention(console: &Console) -> Result<RetentionPolicy, ConsoleError> {
    call(console, Method::GET, "/v1/retention", None).await
}

pub async fn set_retention(console: &Console, policy: &RetentionPolicy) -> Result<RetentionPolicy, ConsoleError> {
    call(console, Method::PUT, "/v1/retention", Some(json!(policy))).await
}

/// Exactly what the daily retention job would delete now.
pub async fn retention_dry_run(console: &Console) -> Result<RetentionPlan, ConsoleError> {
    call(console, Method::GET, "/v1/retention/dry-run", None).await
}

/// One conversation the retention job would delete, as this console knows it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RetentionItem {
    pub conversation_id: String,
    /// The customer's name, or their number (`null`: not in this console's mirror).
    pub customer: Option<String>,
    pub channel: Option<String>,
    /// RFC 3339.
    pub last_activity_at: Option<String>,
}

/// The dry run: exactly what would go (the service's answer) and, for people, whose it is.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RetentionPreview {
    pub plan: RetentionPlan,
    pub conversations: Vec<RetentionItem>,
}

/// The dry run with the mirror's names.
pub async fn retention_preview(console: &Console) -> Result<RetentionPreview, ConsoleError> {
    let plan = retention_dry_run(console).await?;
    let store = console.store();
    let mut conversations = Vec::new();
    for id in &plan.conversation_ids {
        let conversation = store.entity(protocol::EntityKind::Conversation, id.as_str()).await?;
        let text = |v: &Option<Value>, key: &str| v.as_ref().and_then(|c| c.get(key)).and_then(Value::as_str).map(str::to_owned);
        let customer = match text(&conversation, "customer_id") {
            Some(customer_id) => {
                let c = store.entity(protocol::EntityKind::Customer, &customer_id).await?;
                text(&c, "name").filter(|n| !n.is_empty()).or_else(|| text(&c, "phone")).or_else(|| text(&c, "email"))
            }
            None => None,
        };
        conversations.push(RetentionItem {
            conversation_id: id.to_string(),
            customer,
            channel: text(&conversation, "channel"),
            last_activity_at: text(&conversation, "last_activity_at"),
        });
    }
    Ok(RetentionPreview { plan, conversations })
}

/// `text` as a QR code, an SVG drawing.
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_otpauth_link_becomes_a_qr_drawing() {
        let svg = super::qr_svg("otpauth://totp/Switchboard:ana%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Switchboard");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    }
}
