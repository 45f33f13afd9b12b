//! Waiting for the inbox without holding the GVL, so other Ruby threads run and signals arrive.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::inbox::{Inbox, WaitEnd};

struct Call<'a> {
    inbox: &'a Inbox,
    timeout: Option<Duration>,
    interrupted: AtomicBool,
}

unsafe extern "C" fn wait(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Call` that `wait_without_gvl` keeps alive for this whole call.
    let call = unsafe { &*(data as *const Call<'_>) };
    let end = catch_unwind(AssertUnwindSafe(|| {
        call.inbox
            .wait(call.timeout, &|| call.interrupted.load(Ordering::Acquire))
    }));
    let code: usize = match end {
        Ok(WaitEnd::Ready) => 1,
        Ok(WaitEnd::Woken) => 2,
        Ok(WaitEnd::TimedOut) => 3,
        Ok(WaitEnd::Interrupted) | Err(_) => 4,
    };
    code as *mut c_void
}

unsafe extern "C" fn unblock(data: *mut c_void) {
    // SAFETY: as in `wait`; Ruby calls this only while `wait` runs.
    let call = unsafe { &*(data as *const Call<'_>) };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        call.interrupted.store(true, Ordering::Release);
        call.inbox.interrupt();
    }));
}

/// Blocks until the inbox has events, is woken, times out, or Ruby interrupts the thread.
pub fn wait_without_gvl(inbox: &Inbox, timeout: Option<Duration>) {
    let call = Call {
        inbox,
        timeout,
        interrupted: AtomicBool::new(false),
    };
    let data = &call as *const Call<'_> as *mut c_void;
    // SAFETY: both callbacks only read `call` through shared references and it outlives the call.
    unsafe {
        rb_sys::rb_thread_call_without_gvl2(Some(wait), data, Some(unblock), data);
    }
}
