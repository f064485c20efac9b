//! The deployment's settings, read from its variables and secrets once per isolate: a change to
//! either is a new deployment, which starts new isolates.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::domain::settings::Settings;

thread_local! {
    static SETTINGS: RefCell<Option<Rc<Settings>>> = const { RefCell::new(None) };
}

/// The settings, or why they are invalid (read again on the next request until they are valid).
pub fn read(env: &Env) -> Result<Rc<Settings>, String> {
    if let Some(settings) = SETTINGS.with(|s| s.borrow().clone()) {
        return Ok(settings);
    }
    let settings = Rc::new(
        Settings::from_lookup(|name| {
            env.secret(name)
                .map(|s| s.to_string())
                .or_else(|_| env.var(name).map(|v| v.to_string()))
                .ok()
        })
        .map_err(|e| e.to_string())?,
    );
    SETTINGS.with(|s| *s.borrow_mut() = Some(settings.clone()));
    Ok(settings)
}
