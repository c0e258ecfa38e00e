//! Accounts, passwords (argon2id, hashed off the async threads) and bearer tokens.

use crate::limits::{Action, Origin};
use crate::{App, AppError, AppResult};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use danbao_domain::UserId;
use danbao_store::UserRow;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a bearer token stays valid.
const TOKEN_LIFETIME_MS: i64 = 30 * 24 * 3_600_000;
const USERNAME_LEN_MAX: usize = 32;
const PASSWORD_LEN_MIN: usize = 8;
/// Bounds the work a login request can ask of argon2.
const PASSWORD_LEN_MAX: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Buyer,
    Seller,
    Arbitrator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Seller => "seller",
            Role::Arbitrator => "arbitrator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Buyer, Role::Seller, Role::Arbitrator, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub role: Role,
}

/// Who is asking: an account holder, or a guest holding an order's secret link token.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    User(User),
    /// A guest with the access token of one order (from the order's secret link or
    /// from looking it up with contact + query password).
    GuestToken(String),
}

impl Caller {
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::User(u) => Some(u),
            _ => None,
        }
    }
}

pub(crate) fn user_from_row(row: UserRow) -> AppResult<User> {
    let role = Role::parse(&row.role).ok_or_else(|| AppError::Internal(format!("unknown role {}", row.role)))?;
    Ok(User {
        id: row.id,
        username: row.username,
        role,
    })
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn hash_now(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Hashes off the async threads, for the CLI (the server hashes on its hashing threads).
pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

pub fn validate_password(field: &'static str, password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if !(PASSWORD_LEN_MIN..=PASSWORD_LEN_MAX).contains(&n) {
        return Err(AppError::invalid(
            field,
            crate::Invalid::Length {
                min: PASSWORD_LEN_MIN,
                max: PASSWORD_LEN_MAX,
            },
        ));
    }
    Ok(())
}

/// Creates an account straight in a store, for the CLI (no server, provider or vault needed).
pub async fn create_account_in(
    store: &danbao_store::Store,
    username: &str,
    password: &str,
    role: Role,
) -> AppResult<User> {
    let row = new_user_row_hashed(username, password, role, now_ms(), hash_password).await?;
    let mut tx = store.begin().await?;
    insert_user(&mut tx, &row).await?;
    tx.commit().await?;
    user_from_row(row)
}

fn now_ms() -> i64 {
    use crate::clock::Clock;
    crate::clock::SystemClock.now_ms()
}

pub(crate) async fn new_user_row(
    app: &App,
    username: &str,
    password: &str,
    role: Role,
    now: i64,
) -> AppResult<UserRow> {
    new_user_row_hashed(username, password, role, now, |p| app.hash_password(p)).await
}

async fn new_user_row_hashed<F, Fut>(
    username: &str,
    password: &str,
    role: Role,
    now: i64,
    hash: F,
) -> AppResult<UserRow>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = AppResult<String>>,
{
    let valid_name = !username.is_empty()
        && username.len() <= USERNAME_LEN_MAX
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err(AppError::invalid(
            "username",
            format!("1 to {USERNAME_LEN_MAX} letters, digits, '_' or '-'"),
        ));
    }
    validate_password("password", password)?;
    let hash = hash(password.to_string()).await?;
    Ok(UserRow {
        id: UserId::generate(),
        username: username.to_string(),
        password_hash: hash,
        role: role.as_str().to_string(),
        created_at: now,
    })
}

pub(crate) async fn insert_user(tx: &mut danbao_store::Tx, row: &UserRow) -> AppResult<()> {
    tx.insert_user(row).await.map_err(|e| match e {
        danbao_store::StoreError::Conflict(_) => AppError::Refused(danbao_domain::Refusal::UsernameTaken),
        other => other.into(),
    })
}

/// The key an account is rate limited under: its name as typed, case aside.
fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl App {
    /// Hashes a password when it is this request's turn: a flood of logins or checkouts
    /// queues here instead of running one argon2id (19 MiB) per request at once.
    pub(crate) async fn hash_password(&self, password: String) -> AppResult<String> {
        self.guard.hash(move || hash_now(&password)).await?
    }

    /// Checks a password against its hash, in turn like `hash_password`.
    pub(crate) async fn verify_password(&self, password: String, hash: String) -> AppResult<bool> {
        self.guard.hash(move || verify_now(&password, &hash)).await
    }

    /// Makes an account. The API lets buyers and sellers register themselves; staff
    /// accounts are made only by the CLI and the demo. Limited per address and username.
    pub async fn register(&self, origin: &Origin, username: &str, password: &str, role: Role) -> AppResult<User> {
        self.guard.admit(Action::Register, origin, &account_key(username))?;
        let row = new_user_row(self, username, password, role, self.now()).await?;
        let mut tx = self.store.begin().await?;
        insert_user(&mut tx, &row).await?;
        tx.commit().await?;
        user_from_row(row)
    }

    /// Logs in; returns a bearer token (only its hash is stored). Limited per address and
    /// username before any hashing, so a guesser is stopped cheaply.
    pub async fn login(&self, origin: &Origin, username: &str, password: &str) -> AppResult<(String, User)> {
        if password.len() > PASSWORD_LEN_MAX * 4 {
            return Err(AppError::BadCredentials);
        }
        self.guard.admit(Action::Login, origin, &account_key(username))?;
        let mut tx = self.store.begin().await?;
        let row = tx.user_by_username(username).await?;
        tx.commit().await?;
        let Some(row) = row else {
            // Spend the same time as a real check, so usernames cannot be probed by timing.
            let _ = self
                .verify_password(password.to_string(), DUMMY_HASH.to_string())
                .await?;
            return Err(AppError::BadCredentials);
        };
        if !self
            .verify_password(password.to_string(), row.password_hash.clone())
            .await?
        {
            return Err(AppError::BadCredentials);
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let now = self.now();
        let mut tx = self.store.begin().await?;
        // A disabled account is told only what a wrong password is told.
        if tx.user_disabled(&row.id).await? {
            return Err(AppError::BadCredentials);
        }
        tx.insert_token(&token_hash(&token), &row.id, now, now + TOKEN_LIFETIME_MS)
            .await?;
        tx.commit().await?;
        Ok((token, user_from_row(row)?))
    }

    pub async fn authenticate(&self, token: &str) -> AppResult<Option<User>> {
        let mut tx = self.store.begin_read().await?;
        // A disabled account's tokens are deleted when it is disabled; the join also
        // stops one a login racing the disabling may have written.
        let row = tx.active_user_by_token(&token_hash(token), self.now()).await?;
        tx.commit().await?;
        row.map(user_from_row).transpose()
    }
}

/// A valid argon2id hash of a random password, used to keep failed logins for unknown
/// users as slow as failed logins for known ones.
pub(crate) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0k8jRZk3Ckkp4Lq1X0lP5mD0J1nZtJ6zjS1m3jvJ8yQ";

/// Bounds how much a browser secret or form token can be before it is not looked at.
const BROWSER_SECRET_BYTES: usize = 32;

impl App {
    /// A fresh random secret that identifies one browser before anyone logs in, so that
    /// forms (login and checkout included) can be bound to it.
    pub fn new_browser_secret(&self) -> String {
        let mut bytes = [0u8; BROWSER_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    /// The anti-forgery token for the forms of a page shown to `binding`.
    pub fn form_token(&self, binding: &str) -> String {
        self.vault.form_token(binding)
    }

    /// Whether a submitted form token was made for `binding` (constant time).
    pub fn check_form_token(&self, binding: &str, token: &str) -> bool {
        self.vault.check_form_token(binding, token)
    }
}
