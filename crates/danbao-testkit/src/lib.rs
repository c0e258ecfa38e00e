//! TestApp: one real Danbao server per test, on port 0, with its own database (a
//! SQLite file in a temp dir, or a PostgreSQL schema), a test clock, and the sandbox
//! gateway in-process with a sped-up resend schedule. `finish` checks the ledger and
//! that no job was dead-lettered, then cleans up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use danbao_app::clock::{Clock, TestClock};
use danbao_app::limits::Limits;
use danbao_app::vault::Vault;
use danbao_domain::{Account, RuleSet, UserId};
use danbao_http::server::{start, Gateway, RunningServer, ServerConfig};
use danbao_store::Store;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const TEST_DATABASE_ENV: &str = "DANBAO_TEST_DATABASE_URL";
/// The merchant key the in-process sandbox and the platform share in tests.
pub const MERCHANT_KEY: &[u8] = b"test-merchant-key";
/// The MD5 key of the in-process gateway's 易支付 personality in the tests.
pub const EPAY_KEY: &str = "test-epay-key-89unJUB8HZ54Hj7x";
/// The in-process Alipay personality's keys in the tests: fixed, self-generated for tests
/// only (copies of the wire-format crate's vectors, kept in this crate). The application's
/// key signs the platform's requests; the "Alipay" key is the gateway's, signing its answers
/// and notifications, so a test can word a notification exactly as the gateway would.
pub const ALIPAY_APP_PRIVATE_KEY: &str = include_str!("alipay-keys/app-private.pem");
pub const ALIPAY_APP_PUBLIC_KEY: &str = include_str!("alipay-keys/app-public.pem");
pub const ALIPAY_PRIVATE_KEY: &str = include_str!("alipay-keys/alipay-private.pem");
pub const ALIPAY_PUBLIC_KEY: &str = include_str!("alipay-keys/alipay-public.pem");
/// The in-process gateway's 易支付 V2 keys in the tests (self-generated for the tests
/// only; a copy of `danbao-rails`'s, see `src/keys/epay2/README.md`): the merchant's
/// pair (the platform signs its requests) and the aggregator's (it signs its answers and
/// notifications).
pub const EPAY2_MERCHANT_PRIVATE: &str = include_str!("keys/epay2/merchant-private.pem");
pub const EPAY2_MERCHANT_PUBLIC: &str = include_str!("keys/epay2/merchant-public.pem");
pub const EPAY2_PLATFORM_PRIVATE: &str = include_str!("keys/epay2/platform-private.pem");
pub const EPAY2_PLATFORM_PUBLIC: &str = include_str!("keys/epay2/platform-public.pem");
/// The in-process gateway's WeChat Pay keys in the tests: the merchant's API key, the
/// platform's key (a test signs notifications with it as WeChat Pay would) and the
/// APIv3 key. Test keys only (data/wechat/README.md).
pub const WECHAT_MERCHANT_PRIVATE: &str = include_str!("../data/wechat/merchant-private.pem");
pub const WECHAT_PLATFORM_PRIVATE: &str = include_str!("../data/wechat/platform-private.pem");
pub const WECHAT_API_V3_KEY: &str = "Danbao0TestApiV3Key0000000000000";

fn wechat_test_keys() -> danbao_http::server::InProcessWechat {
    danbao_http::server::InProcessWechat {
        merchant_key: danbao_rails::rsa_sha256::SigningKey::from_text(WECHAT_MERCHANT_PRIVATE).unwrap(),
        platform_key: danbao_rails::rsa_sha256::SigningKey::from_text(WECHAT_PLATFORM_PRIVATE).unwrap(),
        api_v3_key: danbao_rails::wechat::ApiV3Key::from_text(WECHAT_API_V3_KEY).unwrap(),
    }
}

/// How long a test waits for something asynchronous (a notification) before failing.
const ASYNC_WAIT: Duration = Duration::from_secs(20);
pub const HOUR_MS: i64 = 3_600_000;

/// The one decision whether a test that needs PostgreSQL runs: the URL in
/// DANBAO_TEST_DATABASE_URL, or None after printing that `what` was skipped. Under CI
/// (the `CI` variable is set, as CI services do) a missing URL is a failure instead:
/// CI starts PostgreSQL, so a quiet skip there would hide a broken setup. A URL that
/// is set but unreachable fails wherever the test first connects, CI or not.
/// (danbao-store's story test keeps a copy of this: it cannot depend on this crate,
/// which depends on danbao-store.)
pub fn postgres_test_url(what: &str) -> Option<String> {
    match std::env::var(TEST_DATABASE_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{what} must run under CI: set {TEST_DATABASE_ENV} to a reachable PostgreSQL \
                 (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            println!("{what} skipped: {TEST_DATABASE_ENV} is not set");
            None
        }
    }
}

pub enum Db {
    Sqlite { dir: PathBuf },
    Postgres { url: String, schema: String },
}

pub struct TestApp {
    pub server: RunningServer,
    pub clock: TestClock,
    pub url: String,
    pub http: reqwest::Client,
    db: Db,
    limits: Limits,
    /// Which API the in-process 易支付 speaks to the platform's `epay` rail.
    epay_api: EpayApi,
}

/// The API of the in-process 易支付 the platform's `epay` rail speaks: V1 (MD5) unless a
/// test asks for V2 (RSA) with [`TestApp::sqlite_epay_v2`] / [`TestApp::postgres_epay_v2`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpayApi {
    V1,
    V2,
}

/// The rule set the tests run with unless they say otherwise: the shipped one with the caps
/// on stock held unpaid lifted, because many tests buy as one guest contact (the fifty
/// buyers race is fifty orders of one contact). Tests of the caps restart with the shipped
/// rules ([`TestApp::with_shipped_limits`]).
/// The simulator plays by the same rules: `danbao_sim::sim_rules` is the one definition.
pub fn harness_rules() -> RuleSet {
    danbao_sim::sim_rules().unwrap()
}

/// The server limits the tests run with unless they say otherwise: every test sends from
/// 127.0.0.1, so the rates per address and account are lifted here, explicitly (production
/// code exempts no address). The hashing bound stays as shipped.
pub fn harness_limits() -> Limits {
    let lifted = danbao_app::limits::ActionRates {
        per_address: danbao_app::limits::Rate {
            burst: 1_000_000,
            per_hour: 1_000_000,
        },
        per_account: danbao_app::limits::Rate {
            burst: 1_000_000,
            per_hour: 1_000_000,
        },
    };
    Limits {
        unpaid_units_per_address_max: 1_000_000,
        login: lifted,
        register: lifted,
        checkout: lifted,
        lookup: lifted,
        ..Limits::default()
    }
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    pub fn problem_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        TestApp::sqlite_with(EpayApi::V1).await
    }

    /// [`TestApp::sqlite`] with the `epay` rail speaking 易支付 V2 to the in-process gateway.
    pub async fn sqlite_epay_v2() -> TestApp {
        TestApp::sqlite_with(EpayApi::V2).await
    }

    /// [`TestApp::postgres`] with the `epay` rail speaking 易支付 V2.
    pub async fn postgres_epay_v2() -> Option<TestApp> {
        TestApp::postgres_with(EpayApi::V2).await
    }

    async fn sqlite_with(epay_api: EpayApi) -> TestApp {
        let dir = std::env::temp_dir().join(format!("danbao-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite:{}", dir.join("danbao.db").display()), None)
            .await
            .unwrap();
        // Real key files, so that the CLI's offline tools can open this data directory.
        let (vault, _) = Vault::open(&dir.join("keys")).unwrap();
        TestApp::boot(
            store,
            Db::Sqlite { dir },
            harness_rules(),
            harness_limits(),
            vault,
            epay_api,
        )
        .await
    }

    /// The SQLite data directory (database and key files), for the CLI's offline tools.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        match &self.db {
            Db::Sqlite { dir } => Some(dir),
            Db::Postgres { .. } => None,
        }
    }

    /// The PostgreSQL URL and this test's schema (None on SQLite).
    pub fn postgres_location(&self) -> Option<(&str, &str)> {
        match &self.db {
            Db::Postgres { url, schema } => Some((url, schema)),
            Db::Sqlite { .. } => None,
        }
    }

    /// A second platform server on this test's PostgreSQL schema, as another `danbao
    /// serve` behind the same load balancer would be: its own connection pool and HTTP
    /// listener, the same keys, clock and rules, paying through this server's sandbox as
    /// an outside gateway; no background worker (the test runs jobs itself).
    pub async fn second_server(&self) -> Option<RunningServer> {
        let (url, schema) = self.postgres_location()?;
        let store = Store::connect(url, Some(schema)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = start(ServerConfig {
            store,
            clock: Arc::new(self.clock.clone()),
            vault: Vault::from_keys([1; 32], [2; 32]),
            listener,
            public_url: None,
            rules: (*self.app().current_rules()).clone(),
            gateway: Gateway::External {
                base_url: format!("{}/sandbox", self.url),
                merchant_key: MERCHANT_KEY.to_vec(),
            },
            worker_interval: None,
            files_dir: None,
            secure_cookies: false,
            limits: self.limits.clone(),
            rails: Vec::new(),
            metrics_token: None,
        })
        .await
        .unwrap();
        Some(server)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres { .. })
    }

    /// Runs SQL straight against the database, as an attacker with access would.
    pub async fn sql(&self, statement: &str) -> u64 {
        self.app()
            .store
            .execute_raw(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"))
    }

    /// None (and a printed note) when DANBAO_TEST_DATABASE_URL is not set, outside CI;
    /// see [`postgres_test_url`].
    pub async fn postgres() -> Option<TestApp> {
        TestApp::postgres_with(EpayApi::V1).await
    }

    async fn postgres_with(epay_api: EpayApi) -> Option<TestApp> {
        let url = postgres_test_url("PostgreSQL test")?;
        let schema = danbao_store::create_pg_schema(&url, "e2e")
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {TEST_DATABASE_ENV}={url}: {e}"));
        let store = Store::connect(&url, Some(&schema)).await.unwrap();
        Some(
            TestApp::boot(
                store,
                Db::Postgres { url, schema },
                harness_rules(),
                harness_limits(),
                Vault::from_keys([1; 32], [2; 32]),
                epay_api,
            )
            .await,
        )
    }

    /// Stops the server and starts it again on the same database with `rules` (a new
    /// published version if they differ), as an operator does with `serve --rules`. The
    /// clock keeps its time; the in-process sandbox starts afresh.
    pub async fn restart_with_rules(self, rules: RuleSet) -> TestApp {
        let limits = self.limits.clone();
        self.restart_at(rules, limits, "127.0.0.1:0").await
    }

    /// Restarts with the shipped rule set and server limits, for the tests of those limits.
    pub async fn with_shipped_limits(self) -> TestApp {
        // The shipped rules, but sellers list without a deposit: these tests are about the
        // limits, and their shops have no cashier to pay one in at.
        let mut rules = RuleSet::default_rules().unwrap();
        rules.deposit.required_minor = 0;
        rules.deposit.volume_share_bps = 0;
        self.restart_with(rules, Limits::default()).await
    }

    /// `restart_with_rules` with the server's limits too.
    pub async fn restart_with(self, rules: RuleSet, limits: Limits) -> TestApp {
        self.restart_at(rules, limits, "127.0.0.1:0").await
    }

    /// Stops the server and starts it again on the same database, keys, rules and
    /// address, as an operator restarting `danbao serve` does: what was sent out before
    /// the restart (cashier links, the notify URL the gateway holds) still reaches it.
    /// The in-process sandbox comes back with its own books from its state directory.
    pub async fn restart(self) -> TestApp {
        let rules = (*self.app().current_rules()).clone();
        let limits = self.limits.clone();
        let addr = self.server.addr.to_string();
        self.restart_at(rules, limits, &addr).await
    }

    async fn restart_at(self, rules: RuleSet, limits: Limits, addr: &str) -> TestApp {
        let now = self.clock.now_ms();
        let TestApp {
            server, db, epay_api, ..
        } = self;
        server.stop().await;
        let (store, vault) = match &db {
            Db::Sqlite { dir } => (
                Store::connect(&format!("sqlite:{}", dir.join("danbao.db").display()), None)
                    .await
                    .unwrap(),
                Vault::open(&dir.join("keys")).unwrap().0,
            ),
            Db::Postgres { url, schema } => (
                Store::connect(url, Some(schema)).await.unwrap(),
                Vault::from_keys([1; 32], [2; 32]),
            ),
        };
        // The clock keeps its time from the first instant of the new server: what the
        // server starts (its rate limiters) must not see time jump backwards.
        TestApp::boot_at(store, db, rules, limits, vault, addr, now, epay_api).await
    }

    async fn boot(store: Store, db: Db, rules: RuleSet, limits: Limits, vault: Vault, epay_api: EpayApi) -> TestApp {
        // Tests start at the real time, so that the sandbox (which keeps real time, like
        // any outside provider) and the platform agree on statement periods; after that
        // only the test moves the platform's clock.
        let now = danbao_app::clock::SystemClock.now_ms();
        TestApp::boot_at(store, db, rules, limits, vault, "127.0.0.1:0", now, epay_api).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn boot_at(
        store: Store,
        db: Db,
        rules: RuleSet,
        limits: Limits,
        vault: Vault,
        addr: &str,
        now: i64,
        epay_api: EpayApi,
    ) -> TestApp {
        let files_dir = match &db {
            Db::Sqlite { dir } => dir.join("files"),
            Db::Postgres { schema, .. } => std::env::temp_dir().join(format!("danbao-files-{schema}")),
        };
        let clock = TestClock::new(now);
        let sandbox_dir = match &db {
            Db::Sqlite { dir } => dir.join("sandbox"),
            Db::Postgres { schema, .. } => std::env::temp_dir().join(format!("danbao-sandbox-{schema}")),
        };
        // The port a stopped server held is free again at once (Tokio's listeners set
        // SO_REUSEADDR), unless another test took it meanwhile: retry briefly.
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    eprintln!("binding {addr}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("binding {addr}: {e}"),
            }
        };
        let server = start(ServerConfig {
            store,
            clock: Arc::new(clock.clone()),
            vault,
            listener,
            public_url: None,
            rules,
            gateway: Gateway::InProcess {
                merchant_key: MERCHANT_KEY.to_vec(),
                time_scale: 1000.0,
                admin_secret: None,
                state_dir: Some(sandbox_dir),
                epay_key: Some(EPAY_KEY.to_string()),
                alipay: Some(danbao_http::server::InProcessAlipay {
                    app_private_key: ALIPAY_APP_PRIVATE_KEY.to_string(),
                    alipay_private_key: ALIPAY_PRIVATE_KEY.to_string(),
                }),
                epay_v2: (epay_api == EpayApi::V2).then(|| danbao_http::server::InProcessEpayV2 {
                    merchant_private_key: EPAY2_MERCHANT_PRIVATE.to_string(),
                    platform_private_key: EPAY2_PLATFORM_PRIVATE.to_string(),
                }),
                wechat: Some(Box::new(wechat_test_keys())),
            },
            worker_interval: None,
            files_dir: Some(files_dir),
            secure_cookies: false,
            limits: limits.clone(),
            rails: Vec::new(),
            metrics_token: None,
        })
        .await
        .unwrap();
        let url = server.url.clone();
        TestApp {
            server,
            clock,
            url,
            // No connection reuse: a server that refuses an oversized body closes the
            // connection early, and a pooled client would send the next request into it.
            http: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(),
            db,
            limits,
            epay_api,
        }
    }

    pub fn app(&self) -> &danbao_app::App {
        &self.server.app
    }

    pub fn advance(&self, ms: i64) {
        self.clock.advance_ms(ms);
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub async fn run_due_jobs(&self) -> usize {
        self.app().run_due_jobs().await.unwrap()
    }

    pub async fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        into_resp(req.send().await.unwrap()).await
    }

    pub async fn raw(&self, req: reqwest::RequestBuilder) -> Resp {
        into_resp(req.send().await.unwrap()).await
    }

    /// A client whose connections come from 127.0.0.`n`: another network address on this
    /// machine, as the server sees it (n = 1 is the usual 127.0.0.1).
    pub fn client_from(&self, n: u8) -> reqwest::Client {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .local_address(std::net::IpAddr::from([127, 0, 0, n]))
            .build()
            .unwrap()
    }

    /// `post`, from 127.0.0.`n`.
    pub async fn post_from(&self, n: u8, path: &str, token: Option<&str>, body: Value) -> Resp {
        let mut req = self.client_from(n).post(format!("{}{}", self.url, path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        into_resp(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request("POST", path, token, Some(body)).await
    }

    /// Registers and logs in; returns (token, user id).
    pub async fn user(&self, username: &str, role: &str) -> (String, String) {
        let r = self
            .post(
                "/api/v1/accounts",
                None,
                json!({"username": username, "password": "correct-horse", "role": role}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = self
            .post(
                "/api/v1/sessions",
                None,
                json!({"username": username, "password": "correct-horse"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        (r.body["token"].as_str().unwrap().to_string(), id)
    }

    /// A seller's card_key product with `keys` keys in stock; returns the product id.
    pub async fn card_product(&self, seller_token: &str, price_minor: i64, keys: usize) -> String {
        self.card_product_titled(seller_token, "点卡", "d", price_minor, keys)
            .await
    }

    /// The same with the seller's own title and description; keys are `KEY-{id}-{n}`.
    pub async fn card_product_titled(
        &self,
        seller_token: &str,
        title: &str,
        description: &str,
        price_minor: i64,
        keys: usize,
    ) -> String {
        let r = self
            .post(
                "/api/v1/seller/products",
                Some(seller_token),
                json!({"title": title, "description": description, "category": "game_cards", "price_minor": price_minor, "delivery_kind": "card_key"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        if keys > 0 {
            let text: String = (0..keys).map(|i| format!("KEY-{id}-{i}\n")).collect();
            let r = self
                .raw(
                    self.http
                        .post(format!("{}/api/v1/seller/products/{id}/card-keys", self.url))
                        .bearer_auth(seller_token)
                        .header("content-type", "text/plain")
                        .body(text),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["imported"], keys);
        }
        id
    }

    pub async fn guest_order(&self, product_id: &str, quantity: i64) -> Resp {
        self.post(
            "/api/v1/orders",
            None,
            json!({"product_id": product_id, "quantity": quantity, "contact": "qq:10001", "query_password": "guest-pass-1"}),
        )
        .await
    }

    /// A guest buys one unit of a card-key product and pays; returns (order id, access
    /// token) once the order is delivered.
    pub async fn guest_order_delivered(&self, product_id: &str) -> (String, String) {
        let placed = self.guest_order(product_id, 1).await;
        assert_eq!(placed.status, 201, "{}", placed.text);
        let order = placed.body["id"].as_str().unwrap().to_string();
        let token = placed.body["access_token"].as_str().unwrap().to_string();
        self.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
        self.wait_for_status(
            &format!("/api/v1/orders/{order}?access_token={token}"),
            None,
            "delivered",
        )
        .await;
        (order, token)
    }

    /// A registered buyer buys one unit of a card-key product and pays; returns the
    /// order id once the order is delivered.
    pub async fn order_delivered(&self, buyer_token: &str, product_id: &str) -> String {
        let placed = self
            .post(
                "/api/v1/orders",
                Some(buyer_token),
                json!({"product_id": product_id, "quantity": 1}),
            )
            .await;
        assert_eq!(placed.status, 201, "{}", placed.text);
        let id = placed.body["id"].as_str().unwrap().to_string();
        self.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
        self.wait_for_status(&format!("/api/v1/orders/{id}"), Some(buyer_token), "delivered")
            .await;
        id
    }

    /// Presses Pay at the sandbox cashier for this payment id.
    pub async fn pay(&self, payment_id: &str) {
        let r = self
            .raw(
                self.http
                    .post(format!("{}/sandbox/payments/{payment_id}/pay", self.url))
                    .header("accept", "application/json"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// Presses Pay as a given payer (the sandbox wallet that pays, as a real gateway's
    /// buyer_id): many payments from one payer are one person.
    pub async fn pay_as(&self, payment_id: &str, payer: &str) {
        let r = self
            .raw(
                self.http
                    .post(format!("{}/sandbox/payments/{payment_id}/pay?payer={payer}", self.url))
                    .header("accept", "application/json"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// Polls an order until it reaches `status` (notifications arrive asynchronously).
    pub async fn wait_for_status(&self, order_path_with_auth: &str, token: Option<&str>, status: &str) -> Resp {
        let deadline = tokio::time::Instant::now() + ASYNC_WAIT;
        loop {
            let r = self.get(order_path_with_auth, token).await;
            if r.body["status"] == status {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order never became {status}: {}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The balance of an account as a person reads it (positive = holds money).
    pub async fn balance(&self, account: &Account) -> i64 {
        let mut tx = self.app().store.begin().await.unwrap();
        let raw = tx.account_balance(account).await.unwrap();
        tx.commit().await.unwrap();
        account.normal_balance(raw)
    }

    pub fn seller_account(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    /// An admin account made the way operators make them (not by self-registration).
    pub async fn admin(&self) -> String {
        self.staff(danbao_app::Role::Admin).await
    }

    /// An arbitrator or admin account (made by the operator, never self-registered).
    pub async fn staff(&self, role: danbao_app::Role) -> String {
        let name = format!("staff{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        self.app()
            .register(&danbao_app::limits::Origin::Local, &name, "admin-password", role)
            .await
            .unwrap();
        let r = self
            .post(
                "/api/v1/sessions",
                None,
                json!({"username": name, "password": "admin-password"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["token"].as_str().unwrap().to_string()
    }

    pub fn sandbox(&self) -> &danbao_sandbox::gateway::Sandbox {
        self.server.sandbox.as_ref().unwrap()
    }

    pub fn set_faults(&self, f: danbao_sandbox::wire::Faults) {
        self.sandbox().set_faults(f);
    }

    /// The merchant SDK, as an outsider (or the platform) uses the gateway.
    pub fn sandbox_client(&self) -> danbao_sandbox::client::SandboxClient {
        danbao_sandbox::client::SandboxClient::new(format!("{}/sandbox", self.url), MERCHANT_KEY.to_vec())
    }

    /// Posts a notification body signed with the real merchant key, as the gateway would.
    pub async fn notify_signed(&self, body: &str) -> Resp {
        self.raw(
            self.http
                .post(format!("{}/api/v1/payments/sandbox/notify", self.url))
                .header(
                    danbao_sandbox::wire::SIGNATURE_HEADER,
                    danbao_sandbox::wire::sign(MERCHANT_KEY, body.as_bytes()),
                )
                .body(body.to_string()),
        )
        .await
    }

    /// Polls until `check` passes on the JSON at `path` (for asynchronous arrivals).
    pub async fn wait_until(
        &self,
        path: &str,
        token: Option<&str>,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Resp {
        let deadline = tokio::time::Instant::now() + ASYNC_WAIT;
        loop {
            let r = self.get(path, token).await;
            if check(&r.body) {
                return r;
            }
            assert!(tokio::time::Instant::now() < deadline, "never saw {what}: {}", r.text);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs due jobs until the refunds of an order are confirmed (the refund job calls the
    /// gateway over HTTP; a job that failed is retried after its backoff).
    pub async fn settle_refunds(&self) {
        for _ in 0..20 {
            self.run_due_jobs().await;
            let mut tx = self.app().store.begin().await.unwrap();
            let queued = tx.jobs_by_status("queued", 1000).await.unwrap();
            tx.commit().await.unwrap();
            if !queued.iter().any(|j| j.kind == "refund") {
                return;
            }
            self.advance(60_000);
        }
        panic!("refunds never settled");
    }

    pub async fn assert_ledger_clean(&self) {
        let violations = self.app().ledger_check().await.unwrap();
        assert!(violations.is_empty(), "ledger violations: {violations:?}");
    }

    /// Checks the ledger and the dead-letter queue, stops the server, drops the database.
    /// Also runs the audit: every open order, complaint, refund and withdrawal has the job
    /// that moves it on, and frozen money is what open cases and freezes hold.
    pub async fn finish(self) {
        let dead = self.app().dead_jobs().await.unwrap();
        assert!(dead.is_empty(), "dead-lettered jobs: {dead:?}");
        let findings = self.app().audit().await.unwrap();
        assert!(findings.is_empty(), "the audit found: {findings:?}");
        self.finish_with_pending_jobs().await;
    }

    /// `finish` for a test that leaves a failing job on purpose.
    pub async fn finish_with_pending_jobs(self) {
        self.assert_ledger_clean().await;
        let store = self.app().store.clone();
        self.server.stop().await;
        store.close().await;
        match self.db {
            Db::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Db::Postgres { url, schema } => {
                danbao_store::drop_pg_schema(&url, &schema).await.unwrap();
                let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("danbao-files-{schema}")));
                let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("danbao-sandbox-{schema}")));
            }
        }
    }
}

/// An `application/x-www-form-urlencoded` body, as a browser sends a form.
pub fn form(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        body,
        text,
        headers,
    }
}

/// One person's browser on the pages: keeps the cookies the server sets (its own jar, so
/// a buyer and a seller are two `Browser`s), follows no redirect (each hop is checked by
/// the test), and remembers the anti-forgery token of the last page it was shown, which
/// `submit` puts into the form as the page's hidden field would.
pub struct Browser<'a> {
    t: &'a TestApp,
    http: reqwest::Client,
    jar: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    token: std::sync::Mutex<Option<String>>,
}

impl<'a> Browser<'a> {
    pub fn new(t: &'a TestApp) -> Browser<'a> {
        Browser {
            t,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Default::default(),
            token: Default::default(),
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.t.url)
        }
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> String {
        let jar = self.jar.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The value of one of its cookies.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    /// Every cookie it holds, as `name=value`.
    pub fn cookies(&self) -> Vec<String> {
        let jar = self.jar.lock().unwrap();
        jar.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Puts a cookie in the jar by hand (a forged or copied one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.lock().unwrap().insert(name.to_string(), value.to_string());
    }

    /// The anti-forgery token of the last page that had a form.
    pub fn form_token(&self) -> Option<String> {
        self.token.lock().unwrap().clone()
    }

    /// Sends a request with this browser's cookies and keeps what it is given.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let cookies = self.cookie_header();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("cookie", cookies)
        };
        let r = self.t.raw(req).await;
        {
            let mut jar = self.jar.lock().unwrap();
            for set in r.headers.get_all("set-cookie") {
                let set = set.to_str().unwrap();
                let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
                if set.contains("Max-Age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_string(), value.to_string());
                }
            }
        }
        if let Some(token) = form_token_in(&r.text) {
            *self.token.lock().unwrap() = Some(token);
        }
        r
    }

    pub async fn get(&self, path_or_url: &str) -> Resp {
        self.send(self.http.get(self.url(path_or_url))).await
    }

    /// A GET to build by hand (headers), then `send`.
    pub fn get_request(&self, path_or_url: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path_or_url))
    }

    /// A POST to build by hand (headers, body), then `send`.
    pub fn post(&self, path_or_url: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path_or_url))
    }

    /// Submits a form as its page would: with the page's anti-forgery token.
    pub async fn submit(&self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let token = self.form_token().expect("a page with a form was shown first");
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(pairs);
        self.post_form(path, &all).await
    }

    /// Posts exactly these form fields (no token added).
    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(pairs)),
        )
        .await
    }

    /// Posts a multipart body (`fields` in order, then `file` as a PNG named s.png).
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)], file: &[u8]) -> Resp {
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--XBOUNDARY\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.png\"\r\nContent-Type: image/png\r\n\r\n",
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--XBOUNDARY--\r\n");
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "multipart/form-data; boundary=XBOUNDARY")
                .body(body),
        )
        .await
    }
}

/// The value of a page's `csrf_token` hidden field, if it has one.
pub fn form_token_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_string())
}

/// Whether the browser tests can run here: Debian's chromium and `npm ci` in ui-tests/.
/// Under CI both must be there (`.ci/run` installs them), so a missing one fails the
/// test instead of skipping it.
pub fn browser_ready() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready =
        std::path::Path::new(&chromium).exists() && ui_tests_dir().join("node_modules/playwright-core").exists();
    assert!(
        ready || std::env::var("CI").is_err(),
        "CI must run the browser tests: install chromium and run `npm ci` in ui-tests/"
    );
    if !ready {
        println!("browser test skipped: needs {chromium} and `npm ci` in ui-tests/");
    }
    ready
}

/// The repository's `ui-tests/` (the playwright-core scripts).
pub fn ui_tests_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui-tests")
}

/// A fresh directory for one browser test's screenshots, `target/ui-shots/<name>/`, kept
/// after the run (CI keeps them as artifacts).
pub fn ui_shots_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/ui-shots")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A page in English: marked `<html lang="en">` and without a Chinese character, but for
/// the language switch's own label (中文, written in the language it switches to). What
/// people typed is the test's to keep ASCII.
pub fn assert_in_english(what: &str, page: &Resp) {
    assert!(page.text.contains(r#"<html lang="en">"#), "{what}: {}", page.text);
    let text = page.text.replace(r#"lang="zh-CN">中文</a>"#, "");
    let han: Vec<String> = text
        .char_indices()
        .filter(|(_, c)| matches!(c, '\u{3000}'..='\u{303f}' | '\u{3400}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}'))
        .map(|(i, _)| {
            let from = text.floor_char_boundary(i.saturating_sub(60));
            let to = text.ceil_char_boundary((i + 20).min(text.len()));
            text[from..to].to_string()
        })
        .take(5)
        .collect();
    assert!(han.is_empty(), "{what} has Chinese in it: {han:#?}");
}
