//! The business's texts with `{variables}` filled in: the customer's name, the service, the local
//! date and time, the staff member, the business's name and the "reply C/R/X" line.

use jiff::tz::TimeZone;
use protocol::{Booking, Customer, TemplateVariable, REPLY_CODES};
use sqlx::AnyConnection;

use crate::error::Error;

const NAMES: [&str; 7] = ["customer_name", "business_name", "service", "staff", "date", "time", "reply_codes"];

/// The values a text can use.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub customer_name: String,
    pub business_name: String,
    pub service: String,
    pub staff: String,
    pub date: String,
    pub time: String,
}

impl Vars {
    pub fn example(business_name: &str) -> Vars {
        Vars {
            customer_name: "Alex".into(),
            business_name: business_name.into(),
            service: "Haircut".into(),
            staff: "Sam".into(),
            date: "Friday 5 March".into(),
            time: "15:00".into(),
        }
    }

    pub fn get(&self, v: TemplateVariable) -> String {
        match v {
            TemplateVariable::CustomerName => self.customer_name.clone(),
            TemplateVariable::BusinessName => self.business_name.clone(),
            TemplateVariable::Service => self.service.clone(),
            TemplateVariable::Staff => self.staff.clone(),
            TemplateVariable::Date => self.date.clone(),
            TemplateVariable::Time => self.time.clone(),
            TemplateVariable::ReplyCodes => REPLY_CODES.into(),
        }
    }

    pub fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for name in NAMES {
            let value = TemplateVariable::parse(name).map(|v| self.get(v)).unwrap_or_default();
            out = out.replace(&format!("{{{name}}}"), &value);
        }
        // "Hi , ..." when the name is unknown reads badly: "Hi, ...".
        out.replace(" ,", ",").replace("  ", " ")
    }
}

/// A `{name}` in a text that is not one of the variables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variable `{{{0}}}`")]
pub struct UnknownVariable(pub String);

/// The first `{name}` that is not a variable, if any.
pub fn check(text: &str) -> Result<(), UnknownVariable> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !NAMES.contains(&name) {
            return Err(UnknownVariable(name.to_owned()));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// The business's name and time zone, as the texts use them.
pub(crate) async fn business(conn: &mut AnyConnection, business_id: &str) -> Result<(String, TimeZone), Error> {
    let b = crate::accounts::business::load(conn, business_id).await?;
    Ok((b.name, TimeZone::get(&b.timezone).map_err(Error::internal)?))
}

fn first_name(customer: &Customer) -> String {
    customer.name.as_deref().and_then(|n| n.split_whitespace().next()).unwrap_or("").to_owned()
}

/// For a customer (no booking).
pub async fn for_customer(conn: &mut AnyConnection, business_id: &str, customer: &Customer) -> Result<Vars, Error> {
    let (business_name, _) = business(conn, business_id).await?;
    Ok(of_customer(&business_name, customer))
}

/// For a customer of the business named `business_name`.
pub(crate) fn of_customer(business_name: &str, customer: &Customer) -> Vars {
    Vars { customer_name: first_name(customer), business_name: business_name.to_owned(), ..Vars::default() }
}

/// For a booking: its local date and time in the business's zone.
pub async fn for_booking(conn: &mut AnyConnection, business_id: &str, booking: &Booking) -> Result<Vars, Error> {
    let place = business(conn, business_id).await?;
    let customer = crate::customers::load_any(conn, business_id, booking.customer_id.as_str()).await?;
    of_booking(conn, &place, booking, customer.as_ref()).await
}

/// For a booking of the business `(name, zone)` and its customer (already loaded).
pub(crate) async fn of_booking(conn: &mut AnyConnection, place: &(String, TimeZone), booking: &Booking, customer: Option<&Customer>) -> Result<Vars, Error> {
    let service = name_of(conn, "services", booking.service_id.as_str()).await?;
    let staff = name_of(conn, "staff", booking.staff_id.as_str()).await?;
    Ok(booking_vars(place, booking, customer, service, staff))
}

/// The name of a service or a staff member (`table`).
pub(crate) async fn name_of(conn: &mut AnyConnection, table: &'static str, id: &str) -> Result<Option<String>, Error> {
    Ok(sqlx::query_scalar(&format!("SELECT name FROM {table} WHERE id = $1")).bind(id).fetch_optional(&mut *conn).await?)
}

/// For a booking, with the names of its service and staff member.
pub(crate) fn booking_vars(
    (business_name, tz): &(String, TimeZone),
    booking: &Booking,
    customer: Option<&Customer>,
    service: Option<String>,
    staff: Option<String>,
) -> Vars {
    let local = booking.start.as_jiff().to_zoned(tz.clone());
    Vars {
        customer_name: customer.map(first_name).unwrap_or_default(),
        business_name: business_name.clone(),
        service: service.unwrap_or_else(|| "appointment".into()),
        staff: staff.unwrap_or_default(),
        date: local.strftime("%A %-d %B").to_string(),
        time: local.strftime("%H:%M").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_variables_and_refuses_unknown_ones() {
        let vars = Vars::example("Bloom");
        assert_eq!(vars.fill("Hi {customer_name}, {service} on {date} at {time}. {reply_codes}"),
            "Hi Alex, Haircut on Friday 5 March at 15:00. Reply C to confirm, R to reschedule or X to cancel.");
        let nameless = Vars { customer_name: String::new(), ..vars };
        assert_eq!(nameless.fill("Hi {customer_name}, see you"), "Hi, see you");
        assert_eq!(check("Hello {customer_name}"), Ok(()));
        assert_eq!(check("Hello {first_name}"), Err(UnknownVariable("first_name".into())));
    }
}
