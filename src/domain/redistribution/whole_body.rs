//! Whether the delivery of an origin's response reads its whole body, decided from the head alone:
//! the call to the origin (`src/edge/api/origin.js`) asks before the body is read, so that the
//! request waits once for the response and its body. The delivery (`src/edge/api/delivery.rs`) asks
//! the same question of a page when it decides what to read.

use crate::domain::access::decision::Grant;
use crate::domain::redistribution::items;

/// What the delivery will do with a response, known before the call to the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// A page (a stream's body is never read whole).
    pub page: bool,
    /// For a recipient: its JSON is filtered.
    pub recipient: bool,
    /// Under a monthly cap: a success is counted whatever its type.
    pub capped: bool,
}

impl Delivery {
    /// What the delivery of a response to this grant does with its body.
    #[must_use]
    pub fn of(grant: &Grant) -> Self {
        Self { page: !grant.stream, recipient: grant.delivery.is_some(), capped: grant.metering.capped }
    }

    /// The delivery as one number, for the runtime.
    #[must_use]
    pub fn bits(self) -> u8 {
        u8::from(self.page) | (u8::from(self.recipient) << 1) | (u8::from(self.capped) << 2)
    }

    /// The delivery of [`Delivery::bits`].
    #[must_use]
    pub fn from_bits(bits: u8) -> Self {
        Self { page: bits & 1 != 0, recipient: bits & 2 != 0, capped: bits & 4 != 0 }
    }

    /// Whether a response with this head is read whole: a recipient's JSON whatever its status; a
    /// success that is JSON, or under a cap any success with a body. Never a part (206), which
    /// does not leave, nor a stream.
    #[must_use]
    pub fn reads(self, status: u16, content_type: Option<&str>, has_body: bool) -> bool {
        if !self.page || status == 206 {
            return false;
        }
        let json = items::is_json(content_type);
        if self.recipient {
            return json;
        }
        (200..300).contains(&status) && (json || (self.capped && has_body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json; charset=utf-8");
    const HTML: Option<&str> = Some("text/html");

    fn page(recipient: bool, capped: bool) -> Delivery {
        Delivery { page: true, recipient, capped }
    }

    #[test]
    fn a_grant_says_what_its_delivery_does() {
        use crate::domain::access::id::Id;
        use crate::domain::redistribution::items::Metering;
        use crate::domain::redistribution::recipient::{self, Mode};
        let id = |s: &str| Id::new(s).unwrap();
        let mut grant = Grant {
            account: id("acme"),
            app: id("acme-search"),
            plan: id("pro"),
            group: id("lookup"),
            stream: false,
            metering: Metering::default(),
            delivery: None,
        };
        assert_eq!(Delivery::of(&grant), page(false, false));
        grant.metering.capped = true;
        grant.delivery = Some(recipient::Delivery { recipient: id("client"), entity: id("e"), mode: Mode::IdsOnly, ids_cap_30d: 10 });
        assert_eq!(Delivery::of(&grant), page(true, true));
        grant.stream = true;
        assert_eq!(Delivery::of(&grant), Delivery { page: false, recipient: true, capped: true });
    }

    #[test]
    fn bits_round_trip() {
        for bits in 0..8 {
            assert_eq!(Delivery::from_bits(bits).bits(), bits);
        }
    }

    #[test]
    fn a_stream_and_a_part_are_never_read() {
        assert!(!Delivery { page: false, recipient: true, capped: true }.reads(200, JSON, true));
        assert!(!page(true, true).reads(206, JSON, true));
        assert!(!page(false, true).reads(206, JSON, true));
    }

    #[test]
    fn a_recipients_json_is_read_whatever_its_status() {
        assert!(page(true, false).reads(200, JSON, true));
        assert!(page(true, false).reads(404, JSON, true));
        assert!(!page(true, true).reads(200, HTML, true));
        assert!(!page(true, false).reads(200, None, true));
    }

    #[test]
    fn otherwise_a_success_that_is_json_or_under_a_cap_has_a_body() {
        assert!(page(false, false).reads(200, JSON, true));
        assert!(page(false, false).reads(204, JSON, false));
        assert!(!page(false, false).reads(200, HTML, true));
        assert!(page(false, true).reads(200, HTML, true));
        assert!(!page(false, true).reads(200, HTML, false));
        assert!(!page(false, true).reads(500, JSON, true));
        assert!(!page(false, false).reads(302, None, true));
    }
}
