//! A business's regional defaults, from its time zone: the zone's country (the tz database's
//! `zone.tab`, links resolved through its `L` lines — both kept in `crates/core/data/`, public
//! domain), that country's currency (ISO 4217, `iso_currency`) and its likely language (CLDR's
//! likely subtags, `icu_locale`). `Europe/London` gives `GB`, `GBP` and `en-GB`.
//!
//! The business's country is what national phone numbers (`07911 123456`) are read in: the
//! region of its locale, or, when the locale names none, the country of its time zone.

use std::collections::HashMap;
use std::sync::LazyLock;

/// ISO 3166-1 alpha-2 country of each zone the tz database lists, links included.
static ZONE_COUNTRY: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for line in include_str!("../../data/zone.tab").lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split('\t');
        if let (Some(country), Some(_), Some(zone)) = (fields.next(), fields.next(), fields.next()) {
            map.insert(zone, country);
        }
    }
    for line in include_str!("../../data/zone-links.tab").lines().filter(|l| l.starts_with("L ")) {
        let mut fields = line.split_whitespace().skip(1);
        if let (Some(target), Some(link)) = (fields.next(), fields.next()) {
            if let Some(country) = map.get(target).copied() {
                map.entry(link).or_insert(country);
            }
        }
    }
    map
});

/// What a new business in a time zone starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionalDefaults {
    /// ISO 3166-1 alpha-2; `None` for zones of no country (`UTC`, `Etc/…`).
    pub country: Option<&'static str>,
    /// BCP 47, language and region (`en-GB`); `en` without a country.
    pub locale: String,
    /// ISO 4217; `USD` without a country that has a currency of its own.
    pub currency: String,
}

/// The country of a time zone (`Europe/London` → `GB`).
pub fn zone_country(timezone: &str) -> Option<&'static str> {
    ZONE_COUNTRY.get(timezone).copied()
}

/// Locale, currency and country for a business in `timezone`.
pub fn defaults_for(timezone: &str) -> RegionalDefaults {
    let Some(country) = zone_country(timezone) else {
        return RegionalDefaults { country: None, locale: "en".into(), currency: "USD".into() };
    };
    RegionalDefaults { country: Some(country), locale: likely_locale(country), currency: currency_of(country).unwrap_or("USD").to_owned() }
}

/// The country's likely language with the country as region (`GB` → `en-GB`, `CH` → `de-CH`).
fn likely_locale(country: &str) -> String {
    // Compiled data: building the expander reads static tables (it is not `Sync`, so not kept).
    let expander = icu_locale::LocaleExpander::new_common();
    let Ok(mut id) = format!("und-{country}").parse::<icu_locale::LanguageIdentifier>() else { return "en".into() };
    expander.maximize(&mut id);
    if id.language.as_str() == "und" {
        return format!("en-{country}");
    }
    format!("{}-{country}", id.language.as_str())
}

/// The regular currency of a country (not a fund, not superseded).
fn currency_of(country: &str) -> Option<&'static str> {
    let country: iso_currency::Country = country.parse().ok()?;
    iso_currency::Currency::from_country(country).into_iter().find(|c| c.flags().is_empty()).map(|c| c.code())
}

/// The country national phone numbers are read in: the locale's region (`en-GB` → `GB`), else
/// the time zone's country.
pub fn business_country(locale: &str, timezone: &str) -> Option<String> {
    crate::customers::locale_region(locale).or_else(|| zone_country(timezone).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_time_zone() {
        let cases = [
            ("Europe/London", Some("GB"), "en-GB", "GBP"),
            ("Europe/Belfast", Some("GB"), "en-GB", "GBP"),
            ("Europe/Paris", Some("FR"), "fr-FR", "EUR"),
            ("Europe/Zurich", Some("CH"), "de-CH", "CHF"),
            ("America/New_York", Some("US"), "en-US", "USD"),
            ("US/Eastern", Some("US"), "en-US", "USD"),
            ("America/Sao_Paulo", Some("BR"), "pt-BR", "BRL"),
            ("Asia/Kolkata", Some("IN"), "hi-IN", "INR"),
            ("Asia/Tokyo", Some("JP"), "ja-JP", "JPY"),
            ("Australia/Sydney", Some("AU"), "en-AU", "AUD"),
            ("Europe/Sofia", Some("BG"), "bg-BG", "EUR"),
            ("UTC", None, "en", "USD"),
            ("Etc/GMT+5", None, "en", "USD"),
        ];
        for (zone, country, locale, currency) in cases {
            let d = defaults_for(zone);
            assert_eq!((d.country, d.locale.as_str(), d.currency.as_str()), (country, locale, currency), "{zone}");
        }
    }

    #[test]
    fn every_canonical_zone_of_a_country_has_a_locale_and_currency() {
        let mut without_currency = Vec::new();
        for (zone, country) in ZONE_COUNTRY.iter() {
            let d = defaults_for(zone);
            assert!(d.locale.ends_with(&format!("-{country}")), "{zone}: {d:?}");
            if currency_of(country).is_none() {
                without_currency.push(*country);
            }
        }
        without_currency.sort();
        without_currency.dedup();
        // Antarctica and South Georgia have no currency of their own (they fall back to USD).
        assert_eq!(without_currency, ["AQ", "GS"], "countries without a currency");
    }

    #[test]
    fn the_business_country_is_the_locale_region_else_the_zone_country() {
        assert_eq!(business_country("en-GB", "America/New_York").as_deref(), Some("GB"));
        assert_eq!(business_country("en", "Europe/London").as_deref(), Some("GB"));
        assert_eq!(business_country("en", "UTC"), None);
    }
}
