//! The command line of both reference servers. Every option can also come from an environment
//! variable (`CHAT_DATABASE`, `CHAT_BIND`, ...), so the servers are configurable in containers
//! without flags. Running the binary without a subcommand means `serve`.

use crate::database::Database;
use chat_core::{Config, HashingConfig};
use chat_http::server::{
    ConnectionLimits, DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_IDLE_TIMEOUT_SECS,
    DEFAULT_MAX_CONNECTIONS,
};
use chat_http::{AddressLimits, HttpConfig, RateLimit};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ipnet::IpNet;
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// A reference chat server: web UI, JSON API, WebSocket protocol, admin panel.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Cli {
    /// Options of every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve` when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// Parses the process's arguments, or prints the usage error and exits.
    pub fn parse_args() -> Cli {
        Cli::try_parse_args_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first one is the program name). Global options (`--database`,
    /// `--log`) go anywhere; `serve`'s options go either without a subcommand or after
    /// `serve`, and are refused before another subcommand rather than silently ignored.
    pub fn try_parse_args_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        if let Some(sub) = matches.subcommand_name() {
            let serve_only = ServeArgs::augment_args(clap::Command::new("serve"));
            for arg in serve_only.get_arguments() {
                let id = arg.get_id().as_str();
                if matches.value_source(id) == Some(ValueSource::CommandLine) {
                    let flag = arg.get_long().unwrap_or(id);
                    return Err(command.error(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!("--{flag} is an option of `serve`; put it after `serve`, not before `{sub}`"),
                    ));
                }
            }
        }
        Ok(cli)
    }

    /// The subcommand to run: `serve` with the top-level options when none was named.
    pub fn into_command(self) -> (GlobalArgs, Command) {
        let command = self.command.unwrap_or(Command::Serve(self.serve));
        (self.global, command)
    }
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database: `sqlite:PATH` (created and migrated when missing), `postgres://...`, or
    /// `memory` (nothing kept after exit).
    #[arg(
        long,
        env = "CHAT_DATABASE",
        default_value = "sqlite:./chat.db",
        global = true
    )]
    pub database: Database,
    /// Log filter (tracing-subscriber EnvFilter syntax), e.g. `info` or `chat_http=debug,info`.
    #[arg(long = "log", env = "CHAT_LOG", default_value = "info", global = true)]
    pub log: String,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process: the size of `Serve` does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the chat over HTTP (the default).
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Create an admin account.
    Createsuperuser(CreateSuperuserArgs),
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// Origins (`scheme://host[:port]`) allowed besides the server's own, for WebSockets and
    /// cookie-authenticated writes. Repeat the flag or separate with commas.
    #[arg(
        long = "allowed-origin",
        env = "CHAT_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Mark the session cookie `Secure` and send `Strict-Transport-Security` (when served over
    /// HTTPS, e.g. behind a proxy).
    #[arg(long, env = "CHAT_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Reverse proxies (IP addresses or CIDR networks, e.g. `10.0.0.0/8`) whose `Forwarded` /
    /// `X-Forwarded-For` headers name the client for the per-address limits. Repeat the flag
    /// or separate with commas. None: the TCP peer is the client.
    #[arg(
        long = "trusted-proxy",
        env = "CHAT_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_ip_net
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// Seconds a client has to send a complete request head, from connecting or from the end
    /// of the previous response; so also how long an idle keep-alive connection stays open.
    #[arg(
        long,
        env = "CHAT_HEADER_READ_TIMEOUT",
        default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub header_read_timeout: u64,
    /// Seconds an HTTP connection may go without a byte read or written (a stalled request
    /// body, a client not reading its response) before it is dropped. WebSockets use the
    /// chat's own ping and idle timeout instead.
    #[arg(
        long,
        env = "CHAT_IDLE_TIMEOUT",
        default_value_t = DEFAULT_IDLE_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub idle_timeout: u64,
    /// Most TCP connections open at once, WebSockets included. Above it new connections wait
    /// in the kernel's listen backlog until one closes.
    #[arg(
        long,
        env = "CHAT_MAX_CONNECTIONS",
        default_value_t = DEFAULT_MAX_CONNECTIONS,
        value_parser = parse_max_connections
    )]
    pub max_connections: usize,
    /// Per-user rate of sends, edits and deletes: `BURST:PER_SECOND` (e.g. `20:5`) or `off`.
    #[arg(long, env = "CHAT_RATE_LIMIT")]
    pub rate_limit: Option<RateLimitArg>,
    /// Per-username rate of login attempts: `BURST:PER_SECOND` or `off`.
    #[arg(long, env = "CHAT_LOGIN_RATE_LIMIT")]
    pub login_rate_limit: Option<RateLimitArg>,
    /// `off` turns every per-client-address rate off (sign up, log in, room creation, search,
    /// WebSocket handshakes), e.g. behind a proxy that limits already or for load tests.
    #[arg(long, env = "CHAT_ADDRESS_LIMITS", value_parser = ["on", "off"], default_value = "on")]
    pub address_limits: String,
    /// Sign ups per client address: `BURST:PER_SECOND` or `off` (default `10:0.033`).
    #[arg(long, env = "CHAT_SIGNUP_RATE_LIMIT")]
    pub signup_rate_limit: Option<RateLimitArg>,
    /// Log-in attempts per client address (default `30:1`).
    #[arg(long, env = "CHAT_ADDRESS_LOGIN_RATE_LIMIT")]
    pub address_login_rate_limit: Option<RateLimitArg>,
    /// Room creations per client address (default `10:0.2`).
    #[arg(long, env = "CHAT_ROOM_RATE_LIMIT")]
    pub room_rate_limit: Option<RateLimitArg>,
    /// Searches per client address (default `30:2`).
    #[arg(long, env = "CHAT_SEARCH_RATE_LIMIT")]
    pub search_rate_limit: Option<RateLimitArg>,
    /// WebSocket handshakes per client address (default `60:5`).
    #[arg(long, env = "CHAT_HANDSHAKE_RATE_LIMIT")]
    pub handshake_rate_limit: Option<RateLimitArg>,
    /// Most WebSockets open per user (0: no cap).
    #[arg(long, env = "CHAT_MAX_SOCKETS_PER_USER", default_value_t = HttpConfig::default().max_sockets_per_user)]
    pub max_sockets_per_user: usize,
    /// Most WebSockets open per client address (0: no cap).
    #[arg(long, env = "CHAT_MAX_SOCKETS_PER_ADDRESS", default_value_t = HttpConfig::default().max_sockets_per_address)]
    pub max_sockets_per_address: usize,
    /// Password hashing threads (sign up, log in, password change); each holds one argon2
    /// work buffer (19 MiB) while busy. Default: the number of cores.
    #[arg(long, env = "CHAT_HASH_THREADS")]
    pub hash_threads: Option<usize>,
    /// Hashes that may wait for a thread; past it requests get 503 `busy`. Default: four per
    /// thread.
    #[arg(long, env = "CHAT_HASH_QUEUE")]
    pub hash_queue: Option<usize>,
    /// Events buffered per room for slow subscribers (each room's ring); a subscriber further
    /// behind re-reads the store. About 32 bytes per event per room with subscribers.
    #[arg(long, env = "CHAT_BROKER_CAPACITY", default_value_t = chat_core::broker::DEFAULT_RING)]
    pub broker_capacity: usize,
    /// Do not serve `/metrics`.
    #[arg(long, env = "CHAT_NO_METRICS")]
    pub no_metrics: bool,
    /// Serve the chat under this path (`/chat`) instead of at the root, as an app embedding
    /// it would.
    #[arg(long, env = "CHAT_BASE_PATH", default_value = "")]
    pub base_path: String,
    /// Seconds to wait for open requests and sockets after SIGINT/SIGTERM before exiting.
    #[arg(long, env = "CHAT_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,
}

impl ServeArgs {
    /// The HTTP layer's configuration: defaults, overridden by these options.
    pub fn http_config(&self) -> HttpConfig {
        let mut config = HttpConfig {
            allowed_origins: self.allowed_origins.clone(),
            secure_cookies: self.secure_cookies,
            trusted_proxies: self.trusted_proxies.clone(),
            serve_metrics: !self.no_metrics,
            base_path: self.base_path.clone(),
            ..HttpConfig::default()
        };
        if let Some(limit) = self.rate_limit {
            config.rate_limit = limit.0;
        }
        if let Some(limit) = self.login_rate_limit {
            config.login_rate_limit = limit.0;
        }
        if self.address_limits == "off" {
            config.address_limits = AddressLimits::off();
        }
        let a = &mut config.address_limits;
        for (arg, slot) in [
            (self.signup_rate_limit, &mut a.signup),
            (self.address_login_rate_limit, &mut a.login),
            (self.room_rate_limit, &mut a.create_room),
            (self.search_rate_limit, &mut a.search),
            (self.handshake_rate_limit, &mut a.handshake),
        ] {
            if let Some(limit) = arg {
                *slot = limit.0;
            }
        }
        config.max_sockets_per_user = self.max_sockets_per_user;
        config.max_sockets_per_address = self.max_sockets_per_address;
        config
    }

    /// The domain's configuration: defaults, with the hashing pool's size from these options.
    pub fn core_config(&self) -> Config {
        let mut config = Config::default();
        if let Some(threads) = self.hash_threads {
            config.hashing = HashingConfig::with_threads(threads);
        }
        if let Some(queue) = self.hash_queue {
            config.hashing.queue = queue;
        }
        config
    }

    /// How long a graceful shutdown may take.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }

    /// The bounds on every HTTP connection.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_connections: self.max_connections,
        }
    }
}

/// A trusted proxy: a CIDR network, or one address (a network of just that address).
fn parse_ip_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{s}`: expected an IP address or a CIDR network (e.g. 10.0.0.0/8)"))
}

/// `--max-connections`: a whole number, at least 1.
fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}`: expected a whole number")),
    }
}

/// Options of `createsuperuser`.
#[derive(Debug, Clone, Args)]
pub struct CreateSuperuserArgs {
    /// Username of the new admin.
    #[arg(long)]
    pub username: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

/// A rate limit on the command line: `BURST:PER_SECOND`, or `off` for none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitArg(pub Option<RateLimit>);

impl FromStr for RateLimitArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if matches!(s, "off" | "none" | "0") {
            return Ok(RateLimitArg(None));
        }
        let (burst, rate) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected BURST:PER_SECOND (e.g. 20:5) or `off`"))?;
        let burst: u32 = burst
            .trim()
            .parse()
            .map_err(|_| format!("`{burst}`: the burst must be a whole number"))?;
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("`{rate}`: the rate must be a number"))?;
        if burst == 0 || !(rate.is_finite() && rate > 0.0) {
            return Err(format!("`{s}`: burst and rate must be positive"));
        }
        Ok(RateLimitArg(Some(RateLimit::new(burst, rate))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<(GlobalArgs, Command), clap::Error> {
        let mut argv = vec!["server"];
        argv.extend_from_slice(args);
        Cli::try_parse_args_from(argv).map(Cli::into_command)
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_defaults() -> Result<(), clap::Error> {
        let (global, command) = parse(&[])?;
        assert!(matches!(global.database, Database::Sqlite(_)));
        let Command::Serve(serve) = command else {
            panic!("expected serve");
        };
        assert_eq!(serve.bind.to_string(), "127.0.0.1:8000");
        assert!(!serve.secure_cookies);
        Ok(())
    }

    #[test]
    fn serve_options_work_with_and_without_the_subcommand() -> Result<(), clap::Error> {
        for args in [
            &["--bind", "127.0.0.1:9000", "--rate-limit", "off"][..],
            &["serve", "--bind", "127.0.0.1:9000", "--rate-limit", "off"][..],
            &[
                "--database",
                "sqlite:x.db",
                "serve",
                "--bind",
                "127.0.0.1:9000",
                "--rate-limit",
                "off",
            ][..],
        ] {
            let (_, command) = parse(args)?;
            let Command::Serve(serve) = command else {
                panic!("expected serve");
            };
            assert_eq!(serve.bind.port(), 9000);
            assert_eq!(serve.http_config().rate_limit, None);
        }
        Ok(())
    }

    #[test]
    fn createsuperuser_takes_database_after_the_subcommand() -> Result<(), clap::Error> {
        let (global, command) = parse(&[
            "createsuperuser",
            "--username",
            "root",
            "--password-stdin",
            "--database",
            "sqlite:/tmp/x.db",
        ])?;
        assert_eq!(global.database, Database::Sqlite("/tmp/x.db".into()));
        let Command::Createsuperuser(args) = command else {
            panic!("expected createsuperuser");
        };
        assert_eq!(args.username, "root");
        assert!(args.password_stdin);
        Ok(())
    }

    #[test]
    fn serve_options_before_another_subcommand_are_refused() {
        let err = parse(&["--bind", "127.0.0.1:9000", "migrate"]);
        assert!(err.is_err());
        let err = parse(&["--bind", "127.0.0.1:9000", "serve"]);
        assert!(err.is_err());
    }

    #[test]
    fn parses_rate_limits() {
        assert_eq!("off".parse::<RateLimitArg>(), Ok(RateLimitArg(None)));
        assert_eq!(
            "20:5".parse::<RateLimitArg>(),
            Ok(RateLimitArg(Some(RateLimit::new(20, 5.0))))
        );
        assert!("20".parse::<RateLimitArg>().is_err());
        assert!("0:5".parse::<RateLimitArg>().is_err());
        assert!("5:-1".parse::<RateLimitArg>().is_err());
    }

    fn serve_args(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        match parse(args)?.1 {
            Command::Serve(serve) => Ok(serve),
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn connection_limits_default_and_override() -> Result<(), clap::Error> {
        assert_eq!(
            serve_args(&[])?.connection_limits(),
            ConnectionLimits::default()
        );
        let limits = serve_args(&[
            "--header-read-timeout",
            "3",
            "--idle-timeout",
            "7",
            "--max-connections",
            "2",
        ])?
        .connection_limits();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(3));
        assert_eq!(limits.idle_timeout, Duration::from_secs(7));
        assert_eq!(limits.max_connections, 2);
        for bad in [
            &["--max-connections", "0"][..],
            &["--max-connections", "many"][..],
            &["--header-read-timeout", "0"][..],
            &["--idle-timeout", "0"][..],
        ] {
            assert!(serve_args(bad).is_err(), "{bad:?} was accepted");
        }
        Ok(())
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() -> Result<(), clap::Error> {
        assert!(serve_args(&[])?.http_config().trusted_proxies.is_empty());
        let config = serve_args(&[
            "--trusted-proxy",
            "10.0.0.0/8, 192.168.1.5",
            "--trusted-proxy",
            "::1",
            "--trusted-proxy",
            "172.16.3.4/12",
        ])?
        .http_config();
        let expected: Vec<IpNet> = ["10.0.0.0/8", "192.168.1.5/32", "::1/128", "172.16.0.0/12"]
            .iter()
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
            .collect();
        assert_eq!(config.trusted_proxies, expected);
        assert!(serve_args(&["--trusted-proxy", "proxy.example"]).is_err());
        assert!(serve_args(&["--trusted-proxy", "10.0.0.0/33"]).is_err());
        Ok(())
    }

    #[test]
    fn hashing_pool_size() -> Result<(), clap::Error> {
        assert_eq!(
            serve_args(&[])?.core_config().hashing,
            HashingConfig::default()
        );
        let config = serve_args(&["--hash-threads", "3", "--hash-queue", "0"])?.core_config();
        assert_eq!((config.hashing.threads, config.hashing.queue), (3, 0));
        let config = serve_args(&["--hash-threads", "2"])?.core_config();
        assert_eq!((config.hashing.threads, config.hashing.queue), (2, 8));
        Ok(())
    }

    #[test]
    fn address_limits_and_socket_caps() -> Result<(), clap::Error> {
        let defaults = serve_args(&[])?.http_config();
        assert_eq!(defaults.address_limits, AddressLimits::default());
        assert_eq!(
            defaults.max_sockets_per_user,
            HttpConfig::default().max_sockets_per_user
        );
        let config = serve_args(&[
            "--address-limits",
            "off",
            "--search-rate-limit",
            "5:1",
            "--max-sockets-per-user",
            "0",
            "--max-sockets-per-address",
            "9",
        ])?
        .http_config();
        assert_eq!(
            config.address_limits,
            AddressLimits {
                search: Some(RateLimit::new(5, 1.0)),
                ..AddressLimits::off()
            }
        );
        assert_eq!(
            (config.max_sockets_per_user, config.max_sockets_per_address),
            (0, 9)
        );
        let config = serve_args(&["--signup-rate-limit", "off"])?.http_config();
        assert_eq!(config.address_limits.signup, None);
        assert_eq!(config.address_limits.login, AddressLimits::default().login);
        assert!(serve_args(&["--address-limits", "maybe"]).is_err());
        Ok(())
    }

    #[test]
    fn default_rate_limits_are_the_libraries() -> Result<(), clap::Error> {
        let (_, command) = parse(&[])?;
        let Command::Serve(serve) = command else {
            panic!("expected serve");
        };
        let config = serve.http_config();
        assert_eq!(config.rate_limit, HttpConfig::default().rate_limit);
        assert_eq!(
            config.login_rate_limit,
            HttpConfig::default().login_rate_limit
        );
        Ok(())
    }
}
