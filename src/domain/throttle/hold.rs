//! A stream's holds: items an open stream may still send, set aside at the guard before they are
//! sent, against the account's monthly cap and the recipient entity's 30 days, and topped up as
//! the stream reports.
//!
//! A page is checked once, before it leaves; a stream sends items for as long as it lasts, so it
//! spends from holds. A hold counts at the guard as if it were already delivered (as distinct
//! items for the month, as ids for the entity), so the account's other requests and streams see
//! it spent, and what is sent and held together never passes a cap. The guard keeps each open
//! stream's holds (`guard::ports::Streams`). With each report it settles what the stream sent
//! from them and tops them up to [`STREAM_HOLD`] within what the caps have left; a stream whose
//! holds are empty and cannot be topped up is told why (`UsageCapped`, `RedistributionCapped`),
//! and ends after its last allowed line.
//!
//! While a report is on its way the stream goes on spending from what it held when the report
//! left. The guard keeps that unspent part held (it cannot know how much of it was spent
//! meanwhile) and adds the top-up to it, so the stream's count and the guard's agree without
//! either waiting (`redistribution::stream::Budget` is the stream's side).

use crate::domain::throttle::charge::{self, Charge, RecipientCharge, REDISTRIBUTION_DAYS};
use crate::domain::throttle::store::{CounterStore, StoreError};
use crate::domain::throttle::verdict::{Allowance, Verdict};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;

/// The most a stream holds of each cap at a time: two reports' worth of items (a capped stream
/// reports once half its hold is spent, every 1,000 items), so it keeps sending while a report is
/// answered. The account's other requests can be refused while up to this many items sit unsent in
/// an open stream's holds.
pub const STREAM_HOLD: u64 = 2_000;
/// How long an open stream is kept after its last report: it reports every 2 s while it lives,
/// and ends itself once its guard has answered none of its reports for 15 s
/// (`redistribution::stream::GUARD_SILENCE_MS`), so a stream not heard from for this long died
/// without a word, and its connection slot is free.
pub const STREAM_TTL_MS: u64 = 20_000;

/// What an open stream holds: `month` items against the monthly cap, counted in the month of
/// `month_day`, and `ids` of its recipient's entity, counted on `ids_day`. Zero holds nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holds {
    pub month_day: Day,
    pub month: u64,
    pub ids_day: Day,
    pub ids: u64,
}

/// What caps a stream: the plan's monthly cap and its recipient's entity cap.
#[derive(Debug, Clone, Copy)]
pub struct Caps<'a> {
    pub monthly_item_cap: Option<u64>,
    pub recipient: Option<&'a RecipientCharge>,
}

impl<'a> Caps<'a> {
    #[must_use]
    pub fn of(charge: &'a Charge) -> Self {
        Self { monthly_item_cap: charge.monthly_item_cap, recipient: charge.recipient.as_ref() }
    }
}

impl Holds {
    /// A stream's holds when it opens: the page of ids its charge reserved for a recipient.
    #[must_use]
    pub fn opening(allowance: Option<&Allowance>) -> Self {
        allowance.map_or_else(Self::default, |a| Self { ids_day: a.day, ids: a.ids, ..Self::default() })
    }

    /// Items the stream may send from these holds: the smaller of the holds its caps need.
    #[must_use]
    pub fn spendable(&self, caps: Caps<'_>) -> u64 {
        match (caps.monthly_item_cap, caps.recipient) {
            (Some(_), Some(_)) => self.month.min(self.ids),
            (Some(_), None) => self.month,
            (None, Some(_)) => self.ids,
            (None, None) => 0,
        }
    }
}

/// Settles what the stream sent since its last report (`used` items, whose distinct count the
/// caller has already added to the month) and gives back the unspent part of its holds: the
/// stream has ended, or is stopped.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn release(store: &mut impl CounterStore, caps: Caps<'_>, held: Holds, used: u64, now: UnixMillis) -> Result<(), StoreError> {
    // The month counts what was delivered by its distinct items: the whole hold goes.
    if held.month > 0 {
        store.add_month_items(Month::of(held.month_day.start()), -i64::try_from(held.month).unwrap_or(i64::MAX))?;
    }
    if let Some(r) = caps.recipient {
        let reserved = Allowance { entity: r.entity.clone(), day: held.ids_day, ids: held.ids };
        charge::settle(store, &reserved, used)?;
        // Ids sent beyond the hold (only while a stop was on its way) still count.
        let past = used.saturating_sub(held.ids);
        if past > 0 {
            store.add_entity_ids(&r.entity, Day::of(now), i64::try_from(past).unwrap_or(i64::MAX))?;
        }
    }
    Ok(())
}

/// Settles a report as [`release`] does, then holds up to [`STREAM_HOLD`] of each cap again,
/// within what it has left. A cap with nothing left stops the stream: its refusal, with nothing
/// held.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn renew(store: &mut impl CounterStore, caps: Caps<'_>, held: Holds, used: u64, now: UnixMillis) -> Result<Result<Holds, Verdict>, StoreError> {
    release(store, caps, held, used, now)?;
    let month = Month::of(now);
    let today = Day::of(now);
    let mut holds = Holds { month_day: today, ids_day: today, ..Holds::default() };
    if let Some(cap) = caps.monthly_item_cap {
        holds.month = cap.saturating_sub(store.month_items(month)?).min(STREAM_HOLD);
        if holds.month == 0 {
            let retry_after = month.next().start().0.saturating_sub(now.0).div_ceil(1000);
            return Ok(Err(Verdict::UsageCapped { retry_after }));
        }
    }
    if let Some(r) = caps.recipient {
        let sent = store.entity_ids(&r.entity, today.minus(REDISTRIBUTION_DAYS - 1), today)?;
        holds.ids = r.ids_cap_30d.saturating_sub(sent).min(STREAM_HOLD);
        if holds.ids == 0 {
            return Ok(Err(Verdict::RedistributionCapped { retry_after: Day::seconds_to_next(now) }));
        }
        store.add_entity_ids(&r.entity, today, i64::try_from(holds.ids).unwrap_or(i64::MAX))?;
    }
    if holds.month > 0 {
        store.add_month_items(month, i64::try_from(holds.month).unwrap_or(i64::MAX))?;
    }
    Ok(Ok(holds))
}
