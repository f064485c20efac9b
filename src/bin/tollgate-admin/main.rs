//! `tollgate-admin`: the admins' command. It validates an entitlement file before it is written to
//! KV, and drives every action of a deployment's admin API: plans, accounts, use cases,
//! recipients, tokens, usage, reports and the audit trail.
//!
//! The API commands read the deployment's URL from `--url` or `TOLLGATE_URL`, and the admin
//! key from `TOLLGATE_ADMIN_KEY` (or, break-glass, the shared secret from
//! `TOLLGATE_ADMIN_SECRET`): never from the command line, where `ps` would show it. `--json`
//! prints the API's own answer, for scripts.
//!
//! Exit codes: 0 done; 1 the file is invalid, the API refused, or the audit chain does not
//! verify; 2 the command line is wrong; 3 the API could not be reached.

mod billing;
mod client;
mod output;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use serde_json::{json, Value};

use client::{segment, Api, Failure};
use tollgate::domain::access::entitlement_file;
use tollgate::domain::access::token::Token;

#[derive(Parser)]
#[command(name = "tollgate-admin", version, about = "Validate entitlements and drive Tollgate's admin API.")]
#[command(after_help = "The admin key is read from TOLLGATE_ADMIN_KEY (break-glass: TOLLGATE_ADMIN_SECRET), never from the command line.\n\
Exit codes: 0 done; 1 invalid file, refused by the API, or audit chain broken; 2 wrong command line; 3 API unreachable.")]
struct Cli {
    /// The deployment's base URL, for example https://api.example.com.
    #[arg(long, global = true, env = "TOLLGATE_URL")]
    url: Option<String>,
    /// Print the API's JSON answer instead of a summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check an entitlement file (plans, accounts, apps) with the edge's own rules, before KV.
    Validate { file: PathBuf },
    /// Plans: endpoints, limits, monthly cap.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Accounts: records, suspension, the guard's report.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// An account's use cases.
    #[command(subcommand, name = "use-cases")]
    UseCases(UseCasesCommand),
    /// An account's downstream recipients.
    #[command(subcommand)]
    Recipients(RecipientsCommand),
    /// Tokens: list, issue, rotate, suspend, reinstate, revoke.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Issue a token (the same as `tokens issue`).
    Issue(IssueArgs),
    /// Revoke a token at once (the same as `tokens revoke`).
    Revoke(TokenRef),
    /// What an account used in a month: forwarded, refused, items, distinct items, bytes.
    Usage(UsageArgs),
    /// An account's statement for a month: lines, charges, the amount due, what pins it.
    Statement(UsageArgs),
    /// The billing export: events by cursor, the export pass, dead letters.
    #[command(subcommand)]
    Billing(billing::BillingCommand),
    /// Every account's month on one page.
    #[command(subcommand)]
    Fleet(billing::FleetCommand),
    /// The audit trail: export it, or verify its hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Who the credential in the environment signs in as, and what its role allows.
    Whoami,
    /// Who is an admin: the roles record (owners only).
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Admin keys for automation: list, issue, revoke (owners only).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
}

#[derive(Subcommand)]
enum RolesCommand {
    /// The roles record: which emails, groups and service tokens are owner, operator or auditor.
    Get,
    /// Replace the roles record with a JSON file (`-` for standard input).
    Put { file: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Owner,
    Operator,
    Auditor,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Every admin key: id, owner, role, expiry, whether revoked.
    List,
    /// Issue a key; it is printed once, on standard output.
    Issue {
        /// Who the key is issued to: a person's email or a system's name.
        #[arg(long)]
        owner: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Unix seconds after which the key is refused (at most 366 days away).
        #[arg(long, conflicts_with = "days", required_unless_present = "days")]
        expires_at: Option<u64>,
        /// Days from now after which the key is refused.
        #[arg(long)]
        days: Option<u64>,
    },
    /// Revoke a key by its id, at once.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum PlansCommand {
    /// The ids of every plan.
    List,
    /// One plan record.
    Get { id: String },
    /// Write a plan record from a JSON file (`-` for standard input).
    Put { id: String, file: PathBuf },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// The ids of every account.
    List,
    /// One account record.
    Get { id: String },
    /// Write an account record from a JSON file (`-` for standard input).
    Put { id: String, file: PathBuf },
    /// Refuse every token of the account, at once.
    Suspend { id: String },
    /// Allow the account's tokens again.
    Reinstate { id: String },
    /// The guard's report: month's items, apps, detection events.
    Report { id: String },
    /// Seal the account's finished days and prune what is past its retention, now.
    Housekeep { id: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum UseCaseStatus {
    Approved,
    Pending,
    Withdrawn,
}

#[derive(Subcommand)]
enum UseCasesCommand {
    /// Add or change a use case.
    Set {
        account: String,
        case: String,
        #[arg(long, value_enum)]
        status: UseCaseStatus,
        #[arg(long, default_value = "")]
        description: String,
    },
}

#[derive(Subcommand)]
enum RecipientsCommand {
    /// Add or change a recipient, from flags or a JSON file.
    Set(RecipientArgs),
}

#[derive(Args)]
struct RecipientArgs {
    account: String,
    recipient: String,
    /// The whole recipient as JSON (`-` for standard input), instead of the flags.
    #[arg(long, conflicts_with_all = ["class", "entity", "approval", "mode", "government_reference"])]
    file: Option<PathBuf>,
    /// commercial, academic, nonprofit, internal, government, surveillance or intelligence.
    #[arg(long, required_unless_present = "file")]
    class: Option<String>,
    /// The organisation the recipient belongs to: related recipients share one 30-day count.
    #[arg(long, required_unless_present = "file")]
    entity: Option<String>,
    /// approved, pending or withdrawn.
    #[arg(long, required_unless_present = "file")]
    approval: Option<String>,
    /// none, ids_only or full; the account's mode when absent.
    #[arg(long)]
    mode: Option<String>,
    /// The written approval's reference, for a government recipient.
    #[arg(long, requires = "government_approved_at")]
    government_reference: Option<String>,
    /// When the written approval was given (Unix seconds).
    #[arg(long, requires = "government_reference")]
    government_approved_at: Option<u64>,
}

#[derive(Args)]
struct IssueArgs {
    #[arg(long)]
    account: String,
    #[arg(long)]
    app: String,
    #[arg(long)]
    use_case: Option<String>,
    /// Unix seconds after which the token is refused.
    #[arg(long)]
    expires_at: Option<u64>,
}

/// A token named by its SHA-256 (preferred) or by the token itself.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct TokenRef {
    /// The SHA-256 of the token, hex (what `tokens list` shows).
    #[arg(long)]
    token_sha256: Option<String>,
    /// The token itself; only its hash is sent.
    #[arg(long)]
    token: Option<String>,
}

#[derive(Subcommand)]
enum TokensCommand {
    /// The account's tokens: hash, app, status.
    List { account: String },
    /// Issue a token; it is printed once, on standard output.
    Issue(IssueArgs),
    /// Revoke the token and issue a new one for the same app.
    Rotate(TokenRef),
    /// Refuse the token until it is reinstated.
    Suspend(TokenRef),
    /// Allow a suspended token again.
    Reinstate(TokenRef),
    /// Refuse the token for good, at once.
    Revoke(TokenRef),
}

#[derive(Args)]
struct UsageArgs {
    #[arg(long)]
    account: String,
    /// YYYY-MM; this month when absent.
    #[arg(long)]
    month: Option<String>,
    /// The ledger rows as CSV (whatever --json says).
    #[arg(long)]
    csv: bool,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// A page of an account's chain (or of the admin log, without --account).
    Export {
        #[arg(long)]
        account: Option<String>,
        /// Entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Entries a page (1 to 10000).
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Follow the pages to the end of the chain.
        #[arg(long)]
        all: bool,
    },
    /// Walk the chain from the last checkpoint (or from the start with --full); exits 1 if an
    /// entry or a day's seal does not match.
    Verify {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        full: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", failure.message());
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    let api = || Api::new(cli.url.clone());
    match cli.command {
        Command::Validate { file } => validate(&file),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tollgate-admin", &mut script);
            // A closed pipe (`| head`) ends the output quietly.
            let _ = io::Write::write_all(&mut io::stdout(), &script);
            Ok(())
        }
        Command::Plans(c) => plans(&api()?, c, json),
        Command::Accounts(c) => accounts(&api()?, c, json),
        Command::UseCases(UseCasesCommand::Set { account, case, status, description }) => {
            let status = match status {
                UseCaseStatus::Approved => "approved",
                UseCaseStatus::Pending => "pending",
                UseCaseStatus::Withdrawn => "withdrawn",
            };
            let route = format!("accounts/{}/use-cases/{}", segment(&account)?, segment(&case)?);
            let answer = api()?.put(&route, &json!({ "status": status, "description": description }))?;
            output::done(&answer, json, &format!("use case `{case}` of `{account}` is {status}"));
            Ok(())
        }
        Command::Recipients(RecipientsCommand::Set(args)) => recipient(&api()?, args, json),
        Command::Tokens(c) => tokens(&api()?, c, json),
        Command::Issue(args) => issue(&api()?, &args, json),
        Command::Revoke(t) => token_action(&api()?, &t, "revoke", json),
        Command::Usage(args) => {
            let format = if args.csv { "csv" } else { "json" };
            let mut route = format!("accounts/{}/usage?format={format}", segment(&args.account)?);
            if let Some(month) = &args.month {
                route.push_str(&format!("&month={}", segment(month)?));
            }
            let answer = api()?.get(&route)?;
            if args.csv || json {
                print!("{}", answer.text);
                if !answer.text.ends_with('\n') {
                    println!();
                }
            } else {
                output::usage(&answer.json());
            }
            Ok(())
        }
        Command::Statement(args) => statement(&api()?, &args, json),
        Command::Billing(c) => billing::billing(&api()?, c, json),
        Command::Fleet(c) => billing::fleet(&api()?, c, json),
        Command::Audit(c) => audit(&api()?, c, json),
        Command::Whoami => {
            let answer = api()?.get("whoami")?;
            let v = answer.json();
            let line = format!("{} ({}, via {})", v["id"].as_str().unwrap_or("?"), v["role"].as_str().unwrap_or("?"), v["via"].as_str().unwrap_or("?"));
            output::done(&answer, json, &line);
            Ok(())
        }
        Command::Roles(RolesCommand::Get) => {
            output::record(&api()?.get("roles")?);
            Ok(())
        }
        Command::Roles(RolesCommand::Put { file }) => {
            let answer = api()?.put("roles", &read_json(&file)?)?;
            output::done(&answer, json, &format!("roles written: {} identities", answer.json()["identities"]));
            Ok(())
        }
        Command::Keys(c) => keys(&api()?, c, json),
    }
}

fn keys(api: &Api, command: KeysCommand, json: bool) -> Result<(), Failure> {
    match command {
        KeysCommand::List => output::keys(&api.get("keys")?, json),
        KeysCommand::Issue { owner, role, expires_at, days } => {
            let role = match role {
                Role::Owner => "owner",
                Role::Operator => "operator",
                Role::Auditor => "auditor",
            };
            let expires_at = match (expires_at, days) {
                (Some(at), _) => at,
                (None, Some(days)) => {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                    now + days.saturating_mul(86_400)
                }
                (None, None) => return Err(Failure::Usage("give --expires-at or --days".into())),
            };
            let answer = api.post("keys", Some(&json!({ "owner": owner, "role": role, "expires_at": expires_at })))?;
            output::key_issued(&answer, json);
        }
        KeysCommand::Revoke { id } => {
            let answer = api.post(&format!("keys/{}/revoke", segment(&id)?), None)?;
            output::done(&answer, json, &format!("admin key {id} revoked"));
        }
    }
    Ok(())
}

fn statement(api: &Api, args: &UsageArgs, json: bool) -> Result<(), Failure> {
    let format = if args.csv { "csv" } else { "json" };
    let mut route = format!("accounts/{}/statement?format={format}", segment(&args.account)?);
    if let Some(month) = &args.month {
        route.push_str(&format!("&month={}", segment(month)?));
    }
    let answer = api.get(&route)?;
    if args.csv {
        print!("{}", answer.text);
    } else {
        output::statement(&answer, json);
    }
    Ok(())
}

fn validate(path: &std::path::Path) -> Result<(), Failure> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("{shown}: {e}")))?;
    let errors = entitlement_file::validate(&text);
    if errors.is_empty() {
        println!("{shown}: valid");
        return Ok(());
    }
    for e in &errors {
        eprintln!("{shown}: {e}");
    }
    Err(Failure::Refused(format!("{shown}: {} problem(s); nothing should be written to KV", errors.len())))
}

/// A JSON file, or standard input for `-`.
fn read_json(path: &std::path::Path) -> Result<Value, Failure> {
    let text = if path.as_os_str() == "-" {
        io::read_to_string(io::stdin()).map_err(|e| Failure::Usage(format!("standard input: {e}")))?
    } else {
        std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?
    };
    serde_json::from_str(&text).map_err(|e| Failure::Usage(format!("{}: not JSON: {e}", path.display())))
}

fn plans(api: &Api, command: PlansCommand, json: bool) -> Result<(), Failure> {
    match command {
        PlansCommand::List => output::ids(&api.get("plans")?, json),
        PlansCommand::Get { id } => output::record(&api.get(&format!("plans/{}", segment(&id)?))?),
        PlansCommand::Put { id, file } => {
            let answer = api.put(&format!("plans/{}", segment(&id)?), &read_json(&file)?)?;
            output::done(&answer, json, &format!("plan `{id}` written"));
        }
    }
    Ok(())
}

fn accounts(api: &Api, command: AccountsCommand, json: bool) -> Result<(), Failure> {
    match command {
        AccountsCommand::List => output::ids(&api.get("accounts")?, json),
        AccountsCommand::Get { id } => output::record(&api.get(&format!("accounts/{}", segment(&id)?))?),
        AccountsCommand::Put { id, file } => {
            let answer = api.put(&format!("accounts/{}", segment(&id)?), &read_json(&file)?)?;
            output::done(&answer, json, &format!("account `{id}` written"));
        }
        AccountsCommand::Suspend { id } => {
            let answer = api.post(&format!("accounts/{}/suspend", segment(&id)?), None)?;
            output::done(&answer, json, &format!("account `{id}` suspended: every token is refused"));
        }
        AccountsCommand::Reinstate { id } => {
            let answer = api.post(&format!("accounts/{}/reinstate", segment(&id)?), None)?;
            output::done(&answer, json, &format!("account `{id}` reinstated"));
        }
        AccountsCommand::Report { id } => output::report(&api.get(&format!("accounts/{}/report", segment(&id)?))?, json),
        AccountsCommand::Housekeep { id } => {
            let answer = api.post(&format!("accounts/{}/housekeep", segment(&id)?), None)?;
            let v = answer.json();
            let sealed: Vec<&str> = v["sealed"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            output::done(&answer, json, &format!("sealed {}; pruned {} rows{}", if sealed.is_empty() { "nothing".to_owned() } else { sealed.join(", ") }, v["pruned"], if v["more"].as_bool() == Some(true) { "; more to do" } else { "" }));
        }
    }
    Ok(())
}

fn recipient(api: &Api, args: RecipientArgs, json: bool) -> Result<(), Failure> {
    let body = match &args.file {
        Some(file) => read_json(file)?,
        None => {
            let mut body = json!({ "class": args.class, "entity": args.entity, "approval": args.approval });
            if let Some(mode) = &args.mode {
                body["mode"] = mode.as_str().into();
            }
            if let (Some(reference), Some(at)) = (&args.government_reference, args.government_approved_at) {
                body["government_approval"] = json!({ "reference": reference, "approved_at": at });
            }
            body
        }
    };
    let route = format!("accounts/{}/recipients/{}", segment(&args.account)?, segment(&args.recipient)?);
    let answer = api.put(&route, &body)?;
    output::done(&answer, json, &format!("recipient `{}` of `{}` written", args.recipient, args.account));
    Ok(())
}

fn tokens(api: &Api, command: TokensCommand, json: bool) -> Result<(), Failure> {
    match command {
        TokensCommand::List { account } => {
            output::tokens(&api.get(&format!("accounts/{}/tokens", segment(&account)?))?, json);
            Ok(())
        }
        TokensCommand::Issue(args) => issue(api, &args, json),
        TokensCommand::Rotate(t) => token_action(api, &t, "rotate", json),
        TokensCommand::Suspend(t) => token_action(api, &t, "suspend", json),
        TokensCommand::Reinstate(t) => token_action(api, &t, "reinstate", json),
        TokensCommand::Revoke(t) => token_action(api, &t, "revoke", json),
    }
}

fn issue(api: &Api, args: &IssueArgs, json: bool) -> Result<(), Failure> {
    let mut body = json!({ "app": args.app });
    if let Some(case) = &args.use_case {
        body["use_case"] = case.as_str().into();
    }
    if let Some(at) = args.expires_at {
        body["expires_at"] = at.into();
    }
    let answer = api.post(&format!("accounts/{}/tokens", segment(&args.account)?), Some(&body))?;
    output::issued(&answer, json);
    Ok(())
}

fn token_action(api: &Api, token: &TokenRef, action: &str, json: bool) -> Result<(), Failure> {
    let hash = match (&token.token, &token.token_sha256) {
        (Some(t), None) => Token::parse(t).map_err(|e| Failure::Usage(format!("--token: {e}")))?.hash().to_string(),
        (None, Some(h)) => segment(h)?.to_owned(),
        _ => return Err(Failure::Usage("give exactly one of --token and --token-sha256".into())),
    };
    let answer = api.post(&format!("tokens/{hash}/{action}"), None)?;
    if action == "rotate" {
        output::issued(&answer, json);
    } else {
        let v = answer.json();
        let app = v["app"].as_str().unwrap_or("?");
        let status = v["status"].as_str().unwrap_or("?");
        output::done(&answer, json, &format!("token {} of app `{app}` is {status}", &hash[..12.min(hash.len())]));
    }
    Ok(())
}

fn audit(api: &Api, command: AuditCommand, json: bool) -> Result<(), Failure> {
    let base = |account: &Option<String>| -> Result<String, Failure> {
        Ok(match account {
            Some(a) => format!("accounts/{}/audit", segment(a)?),
            None => "audit".to_owned(),
        })
    };
    match command {
        AuditCommand::Export { account, after, limit, all } => {
            let mut after = after;
            loop {
                let answer = api.get(&format!("{}?after={after}&limit={limit}", base(&account)?))?;
                output::audit_entries(&answer, json);
                match answer.json()["next"].as_u64() {
                    Some(next) if all => after = next,
                    _ => return Ok(()),
                }
            }
        }
        AuditCommand::Verify { account, full } => {
            let answer = api.get(&format!("{}/verify?full={full}", base(&account)?))?;
            let v = answer.json();
            output::verification(&answer, json);
            if v["ok"].as_bool() == Some(true) {
                Ok(())
            } else {
                Err(Failure::Refused("the audit chain does not verify".into()))
            }
        }
    }
}
