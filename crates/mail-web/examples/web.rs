//! Serves a Maildir's web page and JSON API until Ctrl-C (or for SECONDS).
//!
//! ```text
//! cargo run -p mail-web --example web -- MAILDIR [127.0.0.1:8025] [SECONDS]
//! ```

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(maildir) = args.first() else {
        eprintln!("usage: web MAILDIR [ADDR] [SECONDS]");
        std::process::exit(2);
    };
    let addr = args.get(1).map_or("127.0.0.1:8025", String::as_str);
    let seconds: u64 = args.get(2).map_or(Ok(3600), |s| s.parse())?;
    let handle = mail_web::serve(addr, maildir)?;
    println!("http://{}/", handle.local_addr());
    std::thread::sleep(Duration::from_secs(seconds));
    handle.shutdown(Duration::from_secs(5));
    Ok(())
}
