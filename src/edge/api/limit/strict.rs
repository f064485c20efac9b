//! Strict limiting: every request is one guard call, counted exactly across locations.

use super::{read, Answer, Granted};
use crate::domain::throttle::charge::Charge;
use crate::edge::api::guard::Guard;
use crate::edge::api::request::Incoming;
use crate::domain::guard::command::Command;

pub struct Strict {
    pub charge: Charge,
}

impl Strict {
    pub(super) async fn ask(self, req: &Incoming, guard: &Guard<'_>) -> Answer<Granted> {
        let mut charge = self.charge;
        charge.fingerprint = Some(req.fingerprint());
        read(guard.call(&Command::Charge(charge)).await, guard.account())
            .map(|allowed| Granted { quotas: allowed.quotas, allowance: allowed.allowance, lease: None, stream: allowed.stream })
    }
}
