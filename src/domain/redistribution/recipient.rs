//! Downstream recipients: who an account passes the data on to, in what form, and how much.
//!
//! An account that serves downstream recipients declares each one (its class, the entity it
//! belongs to, its approval) and names the recipient of every request in the
//! `x-tollgate-recipient` header. Related parties share an entity, and the 30-day volume cap is
//! counted per entity, so splitting one organisation into several recipients gains nothing.

use serde::{Deserialize, Serialize};

use crate::domain::access::id::Id;

/// The request header that names the downstream recipient.
pub const HEADER: &str = "x-tollgate-recipient";
/// The usual agreement: at most 1,500,000 post IDs to any one entity in 30 days.
pub const DEFAULT_IDS_PER_ENTITY_30D: u64 = 1_500_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientClass {
    Commercial,
    Academic,
    Nonprofit,
    Internal,
    Government,
    /// Agencies whose mission is surveillance: never served, whatever the record says.
    Surveillance,
    /// Agencies whose mission is intelligence: never served, whatever the record says.
    Intelligence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Approved,
    Pending,
    Rejected,
}

/// In what form data may leave the edge for a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing may be passed on.
    #[default]
    None,
    /// Only identifiers: `data` reduced to `id`s, expansions removed.
    IdsOnly,
    /// The full objects.
    Full,
}

/// The written approval a government recipient needs: who approved it, under what reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernmentApproval {
    pub reference: String,
    /// Unix seconds.
    pub approved_at: u64,
}

/// `{"id":"acme-client-7","class":"commercial","entity":"northwind","approval":"approved"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub id: Id,
    pub class: RecipientClass,
    /// The organisation this recipient belongs to; volume is counted per entity.
    pub entity: Id,
    pub approval: Approval,
    /// Overrides the account's mode for this recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub government_approval: Option<GovernmentApproval>,
}

/// The account's redistribution terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redistribution {
    /// Whether every request must name its downstream recipient.
    #[serde(default)]
    pub serves_recipients: bool,
    /// The form allowed for recipients that do not set their own.
    #[serde(default)]
    pub mode: Mode,
    /// IDs any one entity may receive in a rolling 30 days.
    #[serde(default = "default_cap")]
    pub ids_per_entity_30d: u64,
    #[serde(default)]
    pub recipients: Vec<Recipient>,
}

fn default_cap() -> u64 {
    DEFAULT_IDS_PER_ENTITY_30D
}

impl Default for Redistribution {
    fn default() -> Self {
        Self { serves_recipients: false, mode: Mode::None, ids_per_entity_30d: DEFAULT_IDS_PER_ENTITY_30D, recipients: Vec::new() }
    }
}

/// Why a request may not be served to the recipient it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientRefusal {
    Required,
    Malformed,
    Unknown,
    NotApproved,
    GovernmentApprovalRequired,
    ClassProhibited,
    RedistributionNotAllowed,
}

/// The recipient a request is served to, as the guard and the response filter need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub recipient: Id,
    pub entity: Id,
    pub mode: Mode,
    pub ids_cap_30d: u64,
}

impl Redistribution {
    /// Resolves the recipient named on a request (the header's value, if any).
    ///
    /// # Errors
    /// The [`RecipientRefusal`] that applies; every one is a 403.
    pub fn resolve(&self, named: Option<&str>) -> Result<Option<Delivery>, RecipientRefusal> {
        let Some(named) = named.map(str::trim) else {
            return if self.serves_recipients { Err(RecipientRefusal::Required) } else { Ok(None) };
        };
        let id = Id::new(named).map_err(|_| RecipientRefusal::Malformed)?;
        let r = self.recipients.iter().find(|r| r.id == id).ok_or(RecipientRefusal::Unknown)?;
        // Class first: an approval on record never opens these.
        if matches!(r.class, RecipientClass::Surveillance | RecipientClass::Intelligence) {
            return Err(RecipientRefusal::ClassProhibited);
        }
        if r.approval != Approval::Approved {
            return Err(RecipientRefusal::NotApproved);
        }
        if r.class == RecipientClass::Government && r.government_approval.is_none() {
            return Err(RecipientRefusal::GovernmentApprovalRequired);
        }
        let mode = r.mode.unwrap_or(self.mode);
        if mode == Mode::None {
            return Err(RecipientRefusal::RedistributionNotAllowed);
        }
        Ok(Some(Delivery { recipient: r.id.clone(), entity: r.entity.clone(), mode, ids_cap_30d: self.ids_per_entity_30d }))
    }

    /// Why these terms are invalid, if they are.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if self.ids_per_entity_30d == 0 {
            return Some("`ids_per_entity_30d` must be at least 1".into());
        }
        for (i, r) in self.recipients.iter().enumerate() {
            if self.recipients[..i].iter().any(|o| o.id == r.id) {
                return Some(format!("recipient `{}` is listed twice", r.id));
            }
            if let Some(g) = &r.government_approval {
                if g.reference.trim().is_empty() || g.reference.len() > 200 {
                    return Some(format!("recipient `{}`: the approval reference must be 1 to 200 characters", r.id));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> Redistribution {
        serde_json::from_str(
            r#"{"serves_recipients":true,"mode":"ids_only","ids_per_entity_30d":25,"recipients":[
                {"id":"nw-east","class":"commercial","entity":"northwind","approval":"approved"},
                {"id":"nw-west","class":"commercial","entity":"northwind","approval":"approved","mode":"full"},
                {"id":"uni","class":"academic","entity":"uni","approval":"pending"},
                {"id":"ministry","class":"government","entity":"ministry","approval":"approved"},
                {"id":"agency","class":"government","entity":"agency","approval":"approved",
                 "government_approval":{"reference":"LTR-2026-014","approved_at":1790000000}},
                {"id":"watchers","class":"surveillance","entity":"watchers","approval":"approved"},
                {"id":"spies","class":"intelligence","entity":"spies","approval":"approved",
                 "government_approval":{"reference":"X","approved_at":1}},
                {"id":"closed","class":"commercial","entity":"closed","approval":"approved","mode":"none"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn resolves_approved_recipients_with_their_mode_and_entity() {
        let t = terms();
        let d = t.resolve(Some("nw-east")).unwrap().unwrap();
        assert_eq!((d.entity.as_str(), d.mode, d.ids_cap_30d), ("northwind", Mode::IdsOnly, 25));
        assert_eq!(t.resolve(Some("nw-west")).unwrap().unwrap().mode, Mode::Full);
        assert_eq!(t.resolve(Some("agency")).unwrap().unwrap().entity.as_str(), "agency");
    }

    #[test]
    fn refuses_each_kind_of_bad_recipient() {
        let t = terms();
        assert_eq!(t.resolve(None), Err(RecipientRefusal::Required));
        assert_eq!(t.resolve(Some("Bad Id")), Err(RecipientRefusal::Malformed));
        assert_eq!(t.resolve(Some("nobody")), Err(RecipientRefusal::Unknown));
        assert_eq!(t.resolve(Some("uni")), Err(RecipientRefusal::NotApproved));
        assert_eq!(t.resolve(Some("ministry")), Err(RecipientRefusal::GovernmentApprovalRequired));
        assert_eq!(t.resolve(Some("watchers")), Err(RecipientRefusal::ClassProhibited));
        assert_eq!(t.resolve(Some("spies")), Err(RecipientRefusal::ClassProhibited));
        assert_eq!(t.resolve(Some("closed")), Err(RecipientRefusal::RedistributionNotAllowed));
    }

    #[test]
    fn accounts_without_recipients_need_no_header() {
        assert_eq!(Redistribution::default().resolve(None), Ok(None));
        assert_eq!(Redistribution::default().resolve(Some("x")), Err(RecipientRefusal::Unknown));
    }

    #[test]
    fn validates_terms() {
        let mut t = terms();
        assert_eq!(t.problem(), None);
        t.recipients.push(t.recipients[0].clone());
        assert!(t.problem().unwrap().contains("twice"));
        let zero = Redistribution { ids_per_entity_30d: 0, ..Redistribution::default() };
        assert!(zero.problem().is_some());
    }
}
