//! This request's account guard: asked on the client's path while the request waits, and told
//! things off it (`ctx.wait_until`) once the response has gone.

use std::future::Future;

use worker::{Context, Env};

use crate::domain::access::id::Id;
use crate::domain::guard::command::{Command, Reply};
use crate::edge::guard::client::{self as guard_client, GuardError};

pub struct Guard<'a> {
    env: &'a Env,
    ctx: &'a Context,
    account: &'a Id,
}

impl<'a> Guard<'a> {
    pub fn new(env: &'a Env, ctx: &'a Context, account: &'a Id) -> Self {
        Self { env, ctx, account }
    }

    pub fn account(&self) -> &'a Id {
        self.account
    }

    /// Asks the guard and waits for its answer.
    pub async fn call(&self, command: &Command) -> Result<Reply, GuardError> {
        guard_client::call(self.env, self.account, command).await
    }

    /// Runs `work` off the client's path: the response does not wait for it. `work` gets its own
    /// handles on the environment and the account, as it outlives the request.
    pub fn later<Work, Fut>(&self, work: Work)
    where
        Work: FnOnce(Env, Id) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.ctx.wait_until(work(self.env.clone(), self.account.clone()));
    }
}
