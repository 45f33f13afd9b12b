//! What Ruby asks a connection to do, in order: a queue that holds no memory while it is empty.
//! (tokio's unbounded channel keeps a block of 32 slots, about 1 KiB, for every connection.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::session::Command;

/// One sender (the Ruby handle, under the GVL) and one receiver (the connection task).
#[derive(Default)]
pub struct Commands {
    queue: Mutex<VecDeque<Command>>,
    ready: Notify,
    /// The receiver is gone (the writer ended) or the sender is (the handle was freed).
    shut: AtomicBool,
}

/// A queue that grew past this many slots is given back once it is empty again.
const KEEP_SLOTS: usize = 16;

impl Commands {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Command>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a command; hands it back when nobody will ever take it.
    pub fn send(&self, cmd: Command) -> Result<(), Command> {
        {
            // Checked under the lock `shut` takes: a send is either before the shut (and taken
            // or counted as not delivered) or refused, never lost in between.
            let mut queue = self.queue();
            if self.shut.load(Ordering::Acquire) {
                return Err(cmd);
            }
            queue.push_back(cmd);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// No command will be sent or taken any more; the receiver's `recv` returns what is left,
    /// then None.
    pub fn shut(&self) {
        {
            let _queue = self.queue();
            self.shut.store(true, Ordering::Release);
        }
        self.ready.notify_one();
    }

    /// The next command, waiting for one; None once shut and empty.
    pub async fn recv(&self) -> Option<Command> {
        loop {
            if let Some(cmd) = self.pop() {
                return Some(cmd);
            }
            if self.shut.load(Ordering::Acquire) {
                // A send may have landed between the pop and the flag.
                return self.pop();
            }
            // A send after the pop stored a permit in `ready`: this returns at once then.
            self.ready.notified().await;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue().is_empty()
    }

    fn pop(&self) -> Option<Command> {
        let mut queue = self.queue();
        let cmd = queue.pop_front();
        if queue.is_empty() && queue.capacity() > KEEP_SLOTS {
            *queue = VecDeque::new();
        }
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_ends_after_shut() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let commands = std::sync::Arc::new(Commands::default());
        let sender = commands.clone();
        let got = rt.block_on(async move {
            let taker = tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(Command::Ping(p)) = commands.recv().await {
                    got.push(p[0]);
                }
                got
            });
            for i in 0..100u8 {
                assert!(sender.send(Command::Ping(vec![i])).is_ok());
                if i % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            sender.shut();
            assert!(sender.send(Command::Ping(vec![0])).is_err());
            taker.await.unwrap_or_default()
        });
        assert_eq!(got, (0..100u8).collect::<Vec<_>>());
    }
}
