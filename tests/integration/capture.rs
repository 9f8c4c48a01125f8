//! What a test's own thread logs, for the tests that read the layer's log lines.
//!
//! One global subscriber, installed on first use, writes every event into the buffer of
//! the thread that emitted it while that thread captures. A scoped subscriber per test
//! (`tracing::subscriber::set_default`) missed events now and then in this binary: another
//! test thread running without a subscriber could leave a callsite's cached interest at
//! "never" as the scoped one was set, and the event was dropped. A global subscriber is
//! always among the interested ones, so no event is lost. The tests that capture run
//! their requests on their own thread (current-thread runtimes).

use std::cell::RefCell;
use std::io::Write;
use std::marker::PhantomData;
use std::sync::Once;

thread_local! {
    static BUFFER: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Appends to the emitting thread's buffer, or drops the bytes when it does not capture.
struct ThreadBuffer;

impl Write for ThreadBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        BUFFER.with(|buffer| {
            if let Some(buffer) = buffer.borrow_mut().as_mut() {
                buffer.extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| ThreadBuffer)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this binary");
    });
}

/// Captures what this thread logs, at every level, until dropped.
pub struct LogCapture {
    /// The buffer belongs to the thread that started the capture.
    _thread: PhantomData<*const ()>,
}

impl LogCapture {
    pub fn start() -> Self {
        install();
        BUFFER.with(|buffer| *buffer.borrow_mut() = Some(Vec::new()));
        LogCapture {
            _thread: PhantomData,
        }
    }

    /// Everything logged on this thread since the capture started.
    pub fn text(&self) -> String {
        BUFFER.with(|buffer| {
            buffer
                .borrow()
                .as_deref()
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default()
        })
    }

    /// How many times `needle` appears in the captured text.
    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        BUFFER.with(|buffer| *buffer.borrow_mut() = None);
    }
}
