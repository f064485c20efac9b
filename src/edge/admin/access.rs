//! Cloudflare Access tokens at the edge: the team's keys, fetched and kept per isolate, and the
//! RS256 signature checked by the runtime's WebCrypto (`crypto.subtle`). The token's form and
//! claims are the pure core's (`domain::admin::jwt`), and so is when to fetch the keys again
//! (`domain::admin::jwks`). No cryptography is written here.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::json;
use worker::js_sys::{self, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, AbortController, RequestInit, WorkerGlobalScope};

use crate::domain::admin::access_settings::AccessSettings;
use crate::domain::admin::jwks::{self, Jwk, KeyLookup, KeySetAge};
use crate::domain::admin::jwt::{self, Expected, Identity, JwtError};
use crate::domain::time::clock::UnixMillis;
use crate::edge::log;

/// How long a fetch of the team's keys may take.
const FETCH_TIMEOUT_MS: i32 = 5_000;

/// Why an Access token did not sign anyone in.
pub enum AccessError {
    /// The token is refused (401).
    Token(JwtError),
    /// The team's keys could not be had, so no token can be checked (503, fail closed).
    Unavailable(String),
}

#[derive(Default)]
struct KeySet {
    age: KeySetAge,
    keys: HashMap<String, web_sys::CryptoKey>,
}

thread_local! {
    static KEYS: RefCell<KeySet> = RefCell::new(KeySet::default());
}

/// Checks an Access token: form and algorithm, the key it names, its signature, then issuer,
/// audience and times.
pub async fn verify(token: &str, settings: &AccessSettings, now: UnixMillis) -> Result<Identity, AccessError> {
    let signed = jwt::parse(token).map_err(AccessError::Token)?;
    let key = key_for(&signed.kid, settings, now).await?;
    let subtle = subtle().map_err(|e| AccessError::Unavailable(e.clone()))?;
    let outcome = subtle
        .verify_with_object_and_u8_array_and_u8_array(&algorithm(), &key, &signed.signature, signed.signing_input.as_bytes())
        .map(JsFuture::from);
    let valid = match outcome {
        Ok(promise) => promise.await.ok().and_then(|v| v.as_bool()).unwrap_or(false),
        Err(_) => false,
    };
    if !valid {
        return Err(AccessError::Token(JwtError::Signature));
    }
    let expected = Expected { issuer: &settings.issuer, audience: &settings.audience };
    jwt::check(&signed.claims, expected, now.as_secs()).map_err(AccessError::Token)
}

/// The key a token names: from this isolate's copy when it is fresh and has it, else after one
/// fetch of the team's keys (at most every few seconds, see `domain::admin::jwks`).
async fn key_for(kid: &str, settings: &AccessSettings, now: UnixMillis) -> Result<web_sys::CryptoKey, AccessError> {
    let lookup = |now| KEYS.with(|k| {
        let k = k.borrow();
        (k.age.lookup(k.keys.contains_key(kid), now), k.keys.get(kid).cloned())
    });
    let (mut step, mut key) = lookup(now);
    if step == KeyLookup::Fetch {
        let fetched = fetch_keys(&settings.jwks_url).await;
        if let Err(why) = &fetched {
            log::event("error", "access_keys_unavailable", json!({ "url": settings.jwks_url, "error": why }));
        }
        KEYS.with(|k| {
            let mut k = k.borrow_mut();
            k.age = k.age.after_fetch(fetched.is_ok(), now);
            if let Ok(keys) = fetched {
                k.keys = keys;
            }
        });
        (step, key) = lookup(now);
    }
    match (step, key) {
        (KeyLookup::Use, Some(key)) => Ok(key),
        (KeyLookup::Unknown, _) => Err(AccessError::Token(JwtError::UnknownKey)),
        _ => Err(AccessError::Unavailable("The Access team's signing keys could not be fetched.".into())),
    }
}

fn subtle() -> Result<web_sys::SubtleCrypto, String> {
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    global.crypto().map(|c| c.subtle()).map_err(|_| "the runtime has no WebCrypto".to_owned())
}

/// `{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }`: RS256, the only algorithm accepted.
fn algorithm() -> js_sys::Object {
    let algorithm = js_sys::Object::new();
    let _ = Reflect::set(&algorithm, &"name".into(), &"RSASSA-PKCS1-v1_5".into());
    let _ = Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into());
    algorithm
}

/// Fetches the team's key set and imports each RS256 key for verifying.
async fn fetch_keys(url: &str) -> Result<HashMap<String, web_sys::CryptoKey>, String> {
    let describe = |e: JsValue| {
        e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| "unknown error".into())
    };
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let controller = AbortController::new().map_err(describe)?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_signal(Some(&controller.signal()));
    // The runtime's own timer aborts a fetch that hangs: no wasm callback.
    let abort: js_sys::Function =
        Reflect::get(&controller, &JsValue::from_str("abort")).and_then(JsCast::dyn_into).map_err(describe)?;
    let timer = global.set_timeout_with_callback_and_timeout_and_arguments_0(&abort.bind0(&controller), FETCH_TIMEOUT_MS).map_err(describe)?;
    let outcome = async {
        let response: web_sys::Response = JsFuture::from(global.fetch_with_str_and_init(url, &init)).await?.dyn_into()?;
        if response.status() != 200 {
            return Err(JsValue::from_str(&format!("the key set answered {}", response.status())));
        }
        JsFuture::from(response.text()?).await
    }
    .await;
    global.clear_timeout_with_handle(timer);
    let text = outcome.map_err(describe)?.as_string().unwrap_or_default();
    let keys = jwks::parse(&text).map_err(|e| e.to_string())?;
    let subtle = subtle()?;
    let mut imported = HashMap::new();
    for key in &keys {
        imported.insert(key.kid.clone(), import(&subtle, key).await.map_err(describe)?);
    }
    Ok(imported)
}

async fn import(subtle: &web_sys::SubtleCrypto, key: &Jwk) -> Result<web_sys::CryptoKey, JsValue> {
    let jwk = js_sys::JSON::parse(&json!({ "kty": "RSA", "n": key.n, "e": key.e, "alg": "RS256", "ext": true }).to_string())?;
    let usages = js_sys::Array::of1(&"verify".into());
    let promise = subtle.import_key_with_object("jwk", &jwk.unchecked_into(), &algorithm(), false, &usages)?;
    JsFuture::from(promise).await?.dyn_into()
}
