//! get_url as a table, in-process over `connection: local`, from a loopback HTTP server the
//! test runs: every checksum algorithm, a checksum file named by URL (GNU and BSD lines), a
//! wrong or missing checksum, and a folder `dest` whose file is downloaded every time but
//! replaced only when its bytes differ. Each good row runs twice; the second changes nothing.

#[path = "module_tables/bed.rs"]
mod bed;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use bed::Bed;
use serde_json::json;

const PAYLOAD: &str = "payload v1\n";

/// Digests of PAYLOAD, computed apart from mestral (Python's hashlib).
const DIGESTS: &[(&str, &str)] = &[
    ("md5", "03362c215458033bddca4a0e320657db"),
    ("sha1", "36b4cce35609cbbe1be13739d4e38e9a01640726"),
    (
        "sha224",
        "7b9874ba8af44f95e6fdbeb57c615a3f85be752d5ca51cbb9fa972c1",
    ),
    (
        "sha256",
        "501d51eca1a81d4f64f32b8aa3bc38bbdecb49b98f11a508b4169a1918ae9e3b",
    ),
    (
        "sha384",
        "f49df1d1aef7aa42a562241fb266e0597151bf68a023b4f0f539909672c868067728c221c83fd25327bc38\
         889b0e1a74",
    ),
    (
        "sha512",
        "823d74f6a943a059d97dbea3f8319594bb0d349f22f7802cc88e09e6595e5742a65e192af68243a41e6e5a\
         1996076b4644c1b1935fe57f61a8dc6a49a333373a",
    ),
];

/// A loopback HTTP/1.0 server of fixed paths, counting the requests for each.
struct Server {
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start(files: Vec<(&'static str, String)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        let files: HashMap<&str, String> = files.into_iter().collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                reader.read_line(&mut line).unwrap_or(0);
                // the rest of the request head
                let mut header = String::new();
                while reader.read_line(&mut header).unwrap_or(0) > 2 {
                    header.clear();
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                *counted.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                let reply = match files.get(path.as_str()) {
                    Some(body) => format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    ),
                    None => "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
                };
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Server { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A sha256 checksum file naming app.txt second, in GNU or BSD form.
fn sums_file(bsd: bool) -> String {
    let hex = DIGESTS[3].1;
    match bsd {
        true => format!("SHA256 (other.txt) = 00\nSHA256 (app.txt) = {hex}\n"),
        false => format!("00  other.txt\n{hex} *app.txt\n"),
    }
}

#[tokio::test]
async fn every_checksum_algorithm_given_or_from_a_url() {
    let server = Server::start(vec![
        ("/app.txt", PAYLOAD.to_string()),
        ("/SHA256SUMS", sums_file(false)),
        ("/sha256.bsd", sums_file(true)),
        ("/lone", format!("{}\n", DIGESTS[3].1)),
        ("/other-only", "00  other.txt\n".to_string()),
    ]);
    let bed = Bed::new("geturl").await;
    let url = server.url("/app.txt");
    for (alg, hex) in DIGESTS {
        bed.reset();
        let args = json!({"url": url, "dest": "$D/app.txt", "checksum": format!("{alg}:{hex}")});
        bed.twice(alg, "get_url", &args, true).await;
        assert_eq!(bed.text("app.txt"), PAYLOAD, "{alg}");
    }
    for sums in ["/SHA256SUMS", "/sha256.bsd", "/lone"] {
        bed.reset();
        let checksum = format!("sha256:{}", server.url(sums));
        let args = json!({"url": url, "dest": "$D/app.txt", "checksum": checksum});
        bed.twice(sums, "get_url", &args, true).await;
        assert_eq!(bed.text("app.txt"), PAYLOAD, "{sums}");
    }

    // a wrong digest fails and leaves nothing behind
    bed.reset();
    let wrong = json!({"url": url, "dest": "$D/app.txt", "checksum": "md5:0123abcd"});
    let out = bed.run("get_url", &wrong).await;
    assert_eq!(
        (out.failed, out.msg, bed.names("")),
        (
            true,
            Some(format!(
                "The checksum for {} did not match 0123abcd; it was {}.",
                bed.path("app.txt"),
                DIGESTS[0].1
            )),
            vec!["files".to_string()]
        )
    );

    // a checksum file without the URL's file name
    let checksum = format!("sha256:{}", server.url("/other-only"));
    let missing = json!({"url": url, "dest": "$D/app.txt", "checksum": checksum});
    let out = bed.run("get_url", &missing).await;
    assert_eq!(
        (out.failed, out.msg),
        (
            true,
            Some(format!(
                "Unable to find a checksum for file 'app.txt' in '{}'",
                server.url("/other-only")
            ))
        )
    );
}

#[tokio::test]
async fn an_existing_file_is_kept_unless_its_checksum_is_wrong() {
    let server = Server::start(vec![("/app.txt", PAYLOAD.to_string())]);
    let bed = Bed::new("geturlkeep").await;
    let url = server.url("/app.txt");

    // without a checksum (and without force) the existing file is kept, nothing fetched
    bed.put("app.txt", b"local\n", 0o644);
    let plain = json!({"url": url, "dest": "$D/app.txt"});
    let out = bed.run("get_url", &plain).await;
    assert_eq!(
        (out.changed, out.msg.as_deref(), bed.text("app.txt")),
        (false, Some("file already exists"), "local\n".to_string())
    );
    assert_eq!(server.hits("/app.txt"), 0);

    // a sha1 that the local file does not have: downloaded and replaced, then stable
    let sha1 = format!("sha1:{}", DIGESTS[1].1);
    let checked = json!({"url": url, "dest": "$D/app.txt", "checksum": sha1});
    bed.twice("sha1 mismatch", "get_url", &checked, true).await;
    assert_eq!(bed.text("app.txt"), PAYLOAD);
    assert_eq!(server.hits("/app.txt"), 1);
}

#[tokio::test]
async fn into_a_folder_always_downloads_and_replaces_only_on_change() {
    let server = Server::start(vec![("/app.txt", PAYLOAD.to_string())]);
    let bed = Bed::new("geturldir").await;
    std::fs::create_dir_all(bed.dir.join("dl")).unwrap();
    bed.put("dl/app.txt", b"old\n", 0o644);
    let args = json!({"url": server.url("/app.txt"), "dest": "$D/dl"});

    let first = bed.run("get_url", &args).await;
    assert_eq!(
        (first.failed, first.changed, bed.text("dl/app.txt")),
        (false, true, PAYLOAD.to_string())
    );
    assert_eq!(first.values["dest"], json!(bed.path("dl/app.txt")));
    let kept = bed.identity("dl/app.txt");
    let second = bed.run("get_url", &args).await;
    assert_eq!((second.failed, second.changed), (false, false));
    assert_eq!(
        bed.identity("dl/app.txt"),
        kept,
        "an equal download must not replace"
    );
    assert_eq!(
        server.hits("/app.txt"),
        2,
        "a folder dest downloads every time"
    );
}
