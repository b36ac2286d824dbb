//! A real DNS server for tests: dnsmasq (Debian's `dnsmasq-base`) on a free
//! loopback port, answering only from the records a test gives it.
//!
//! Names it was not given are NXDOMAIN; a name given with other types has
//! NODATA for the rest; nothing is forwarded anywhere.
//!
//! ```no_run
//! use mail_dns::testing::{Dnsmasq, Records};
//!
//! let dns = Dnsmasq::start(
//!     Records::new()
//!         .mx("example.test", "mx.example.test", 10)
//!         .a("mx.example.test", [127, 0, 0, 1].into())
//!         .txt("example.test", "v=spf1 ip4:127.0.0.1 -all"),
//! )?;
//! let resolver = dns.resolver()?;
//! assert_eq!(resolver.mx("example.test").wait()?[0].exchange, "mx.example.test");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{DnsConfig, Resolver};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The records a test server answers with.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Lines of a dnsmasq configuration file (quotes are read there, not
    /// on the command line).
    lines: Vec<String>,
    ttl: u32,
}

impl Records {
    /// No records; TTL 0 (nothing cached), see [`ttl`](Self::ttl).
    pub fn new() -> Records {
        Records::default()
    }

    /// An MX record.
    pub fn mx(mut self, domain: &str, exchange: &str, preference: u16) -> Records {
        self.lines
            .push(format!("mx-host={domain},{exchange},{preference}"));
        self
    }

    /// A null MX (RFC 7505): `MX 0 .`.
    pub fn null_mx(mut self, domain: &str) -> Records {
        self.lines.push(format!("mx-host={domain},.,0"));
        self
    }

    /// An A record.
    pub fn a(mut self, host: &str, ip: Ipv4Addr) -> Records {
        self.lines.push(format!("host-record={host},{ip}"));
        self
    }

    /// An AAAA record.
    pub fn aaaa(mut self, host: &str, ip: Ipv6Addr) -> Records {
        self.lines.push(format!("host-record={host},{ip}"));
        self
    }

    /// An A or AAAA record, by the address's family.
    pub fn ip(self, host: &str, ip: IpAddr) -> Records {
        match ip {
            IpAddr::V4(v4) => self.a(host, v4),
            IpAddr::V6(v6) => self.aaaa(host, v6),
        }
    }

    /// A TXT record; text longer than 255 octets is split into several
    /// strings of one record, as DNS requires (readers join them).
    pub fn txt(mut self, name: &str, text: &str) -> Records {
        let mut arg = format!("txt-record={name}");
        let bytes = text.as_bytes();
        let mut start = 0;
        while start < bytes.len() || start == 0 {
            let mut end = (start + 255).min(bytes.len());
            // Split between characters, never inside one.
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            arg.push_str(",\"");
            for c in text.get(start..end).unwrap_or_default().chars() {
                if c == '"' || c == '\\' {
                    arg.push('\\');
                }
                arg.push(c);
            }
            arg.push('"');
            if end == bytes.len() {
                break;
            }
            start = end;
        }
        self.lines.push(arg);
        self
    }

    /// A CNAME record.
    pub fn cname(mut self, alias: &str, target: &str) -> Records {
        self.lines.push(format!("cname={alias},{target}"));
        self
    }

    /// A PTR record for `ip`.
    pub fn ptr(mut self, ip: IpAddr, host: &str) -> Records {
        let name = hickory_resolver::proto::rr::Name::from(ip).to_ascii();
        self.lines
            .push(format!("ptr-record={},{host}", name.trim_end_matches('.')));
        self
    }

    /// The TTL of every answer, in seconds.
    pub fn ttl(mut self, seconds: u32) -> Records {
        self.ttl = seconds;
        self
    }
}

/// A running dnsmasq, killed when dropped.
#[derive(Debug)]
pub struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    config: PathBuf,
}

impl Dnsmasq {
    /// Starts dnsmasq with `records` on a free port of 127.0.0.1 and waits
    /// until it answers.
    pub fn start(records: Records) -> io::Result<Dnsmasq> {
        let program = find_dnsmasq()?;
        let config = config_path();
        let mut text = records.lines.join("\n");
        text.push('\n');
        std::fs::write(&config, text)?;
        let mut last_error = None;
        // A port found free can be taken before dnsmasq binds it.
        for _ in 0..5 {
            let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let mut child = Command::new(&program)
                .args([
                    "--no-daemon",
                    "--no-resolv",
                    "--no-hosts",
                    "--no-poll",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                    "--local=/#/",
                    "--pid-file=",
                    "--user=root",
                    "--cache-size=0",
                ])
                .arg(format!("--port={port}"))
                .arg(format!("--local-ttl={}", records.ttl))
                .arg(format!("--conf-file={}", config.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?;
            match wait_until_answering(&mut child, addr) {
                Ok(()) => {
                    return Ok(Dnsmasq {
                        child,
                        addr,
                        config,
                    })
                }
                Err(e) => {
                    let _ = child.kill();
                    let output = child.wait_with_output()?;
                    last_error = Some(io::Error::other(format!(
                        "dnsmasq did not start: {e}; it said: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    )));
                }
            }
        }
        let _ = std::fs::remove_file(&config);
        Err(last_error.unwrap_or_else(|| io::Error::other("dnsmasq did not start")))
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A resolver that asks only this server, with a short deadline.
    pub fn resolver(&self) -> Result<Resolver, crate::DnsError> {
        Resolver::new(DnsConfig::server(self.addr).with_timeout(Duration::from_secs(3)))
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// A configuration file name of this process's own.
fn config_path() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mail-dns-test-{}-{n}.conf", std::process::id()))
}

fn find_dnsmasq() -> io::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("dnsmasq"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "dnsmasq is not installed (tests do not skip): apt-get install dnsmasq-base, or run tests/run-all.sh, which installs it",
            )
        })
}

/// Sends a query for the root's SOA until some answer comes back.
fn wait_until_answering(child: &mut Child, addr: SocketAddr) -> io::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    // ID 0x1234, RD, one question: ". SOA IN".
    let query = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1,
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut reply = [0u8; 512];
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("it exited ({status})")));
        }
        socket.send_to(&query, addr)?;
        if let Ok((n, _)) = socket.recv_from(&mut reply) {
            if n >= 2 && reply[..2] == [0x12, 0x34] {
                return Ok(());
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "no answer within 5 s",
    ))
}
