//! Reads the option Hash that lib/websocket/native/options.rb has already checked and normalised.

use std::path::PathBuf;
use std::time::Duration;

use magnus::{Error, RHash, Ruby, TryConvert};

use super::config_error;
use crate::dial::{Proxy, Target};
use crate::session::Timing;
use crate::tls::{self, TlsOptions};

struct Reader<'a> {
    ruby: &'a Ruby,
    hash: RHash,
}

impl Reader<'_> {
    fn get<T: TryConvert>(&self, key: &str) -> Result<T, Error> {
        self.hash.fetch(self.ruby.sym_new(key)).map_err(|e| {
            config_error(
                self.ruby,
                format!("internal option {key} is missing or of the wrong type: {e}"),
            )
        })
    }

    fn seconds(&self, key: &str) -> Result<Option<Duration>, Error> {
        let v: Option<f64> = self.get(key)?;
        match v {
            None => Ok(None),
            Some(s) => Duration::try_from_secs_f64(s).map(Some).map_err(|_| {
                config_error(
                    self.ruby,
                    format!("{key} must be a positive number of seconds, not {s}"),
                )
            }),
        }
    }

    /// The hash under `key`, read the same way.
    fn hop(&self, key: &str) -> Result<Reader<'_>, Error> {
        Ok(Reader {
            ruby: self.ruby,
            hash: self.get(key)?,
        })
    }

    fn path(&self, key: &str) -> Result<Option<PathBuf>, Error> {
        Ok(self.get::<Option<String>>(key)?.map(PathBuf::from))
    }
}

/// The TLS options of one hop, in the hash under `key` ("tls" for the server, "proxy_tls" for
/// an https:// proxy).
fn tls_opts(r: &Reader<'_>, key: &str) -> Result<TlsOptions, Error> {
    let hop = r.hop(key)?;
    Ok(TlsOptions {
        verify_peer: hop.get("verify_peer")?,
        root_cert_files: hop
            .get::<Vec<String>>("root_cert_files")?
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        pin_roots: hop.get("pin_roots")?,
        cert_chain_file: hop.path("cert_chain_file")?,
        private_key_file: hop.path("private_key_file")?,
    })
}

/// The TLS configuration of the hop under `key`.
fn tls_setup(r: &Reader<'_>, key: &str) -> Result<tls::TlsSetup, Error> {
    tls::setup(&tls_opts(r, key)?).map_err(|m| config_error(r.ruby, m))
}

/// The `tls:` options for a wss:// URL, None for ws://.
pub fn tls_options(ruby: &Ruby, hash: RHash) -> Result<Option<TlsOptions>, Error> {
    let r = Reader { ruby, hash };
    if !r.get::<bool>("secure")? {
        return Ok(None);
    }
    tls_opts(&r, "tls").map(Some)
}

/// True when the client has a logger: the core then reports each dial step.
pub fn wants_log(ruby: &Ruby, hash: RHash) -> Result<bool, Error> {
    let r = Reader { ruby, hash };
    Ok(r.get::<Option<bool>>("log")?.unwrap_or(false))
}

/// Builds the dial target and timing from the normalised option Hash.
pub fn read(ruby: &Ruby, hash: RHash) -> Result<(Target, Timing), Error> {
    let r = Reader { ruby, hash };
    let secure: bool = r.get("secure")?;
    let sni_hostname: Option<String> = r.hop("tls")?.get("sni_hostname")?;
    let tls = if secure {
        Some(tls_setup(&r, "tls")?)
    } else {
        None
    };
    let proxy = match r.get::<Option<String>>("proxy_host")? {
        Some(host) => Some(Proxy {
            host,
            port: r.get("proxy_port")?,
            headers: r.get("proxy_headers")?,
            tls: if r.get("proxy_secure")? {
                Some(tls_setup(&r, "proxy_tls")?)
            } else {
                None
            },
            sni_hostname: r.hop("proxy_tls")?.get("sni_hostname")?,
        }),
        None => None,
    };
    let open_timeout = r
        .seconds("connect_timeout")?
        .unwrap_or(Duration::from_secs(10));
    let target = Target {
        host: r.get("host")?,
        port: r.get("port")?,
        resource: r.get("resource")?,
        protocols: r.get("protocols")?,
        headers: r.get("headers")?,
        tls,
        sni_hostname,
        proxy,
        open_timeout,
        max_head: r.get("max_handshake_size")?,
        max_length: r.get("max_length")?,
        trace: None,
    };
    let timing = Timing {
        close_timeout: r
            .seconds("close_timeout")?
            .unwrap_or(Duration::from_secs(10)),
        ping_interval: r.seconds("ping")?,
        pong_timeout: r.seconds("pong_timeout")?,
    };
    Ok((target, timing))
}

/// The per-connection send limit in bytes (checked by options.rb).
pub fn send_limit(ruby: &Ruby, hash: RHash) -> Result<usize, Error> {
    Reader { ruby, hash }.get("send_limit")
}
