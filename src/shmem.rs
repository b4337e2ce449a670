//! Structs in shared memory, each behind an LWLock of its own: declared as statics, asked for
//! while the library is preloaded, set up once by the postmaster and found by every backend.
//!
//! One pair of hooks serves them all, chained after whatever hooks were there before.

use pgrx::pg_sys;
use std::ffi::CStr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

/// A `T` in shared memory with its lock. `T` must be plain data, valid when all its bytes are
/// zero (numbers, bools, arrays of them, atomics): shared memory starts zeroed.
pub struct Shared<T: 'static> {
    name: &'static CStr,
    /// Sets the fields whose start is not zero, once, in the postmaster.
    init: fn(&mut T),
    at: AtomicPtr<Locked<T>>,
}

#[repr(C)]
struct Locked<T> {
    lock: *mut pg_sys::LWLock,
    value: T,
}

/// What the hooks set up, in the order the statics were installed.
trait Segment: Sync {
    fn request(&self);
    /// # Safety
    /// In the shared memory startup hook only.
    unsafe fn startup(&self);
}

static SEGMENTS: Mutex<Vec<&'static dyn Segment>> = Mutex::new(Vec::new());
static mut PREV_SHMEM_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_SHMEM_STARTUP: pg_sys::shmem_startup_hook_type = None;

// Safety: the pointer is written once, in the startup hook, before any reader runs; the value
// behind it is shared between processes through the LWLock (or its own atomics).
unsafe impl<T> Sync for Shared<T> {}

impl<T: 'static> Shared<T> {
    /// # Safety
    /// `T` must be valid when all its bytes are zero.
    pub const unsafe fn new(name: &'static CStr, init: fn(&mut T)) -> Self {
        Shared {
            name,
            init,
            at: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Asks for the memory. From `_PG_init`, while preloading.
    pub fn install(&'static self) {
        let mut segments = SEGMENTS.lock().unwrap_or_else(|e| e.into_inner());
        if segments.is_empty() {
            unsafe {
                PREV_SHMEM_REQUEST = pg_sys::shmem_request_hook;
                pg_sys::shmem_request_hook = Some(shmem_request);
                PREV_SHMEM_STARTUP = pg_sys::shmem_startup_hook;
                pg_sys::shmem_startup_hook = Some(shmem_startup);
            }
        }
        segments.push(self);
    }

    /// Runs `f` on the value under its lock; None when the library was not preloaded. Nothing
    /// in `f` may raise an ERROR or wait: an LWLock is held.
    pub fn locked<R>(
        &self,
        mode: pg_sys::LWLockMode::Type,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let at = self.at.load(Ordering::Acquire);
        if at.is_null() {
            return None;
        }
        unsafe {
            pg_sys::LWLockAcquire((*at).lock, mode);
            let out = f(&mut (*at).value);
            pg_sys::LWLockRelease((*at).lock);
            Some(out)
        }
    }

    pub fn exclusive<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.locked(pg_sys::LWLockMode::LW_EXCLUSIVE, f)
    }

    pub fn shared<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.locked(pg_sys::LWLockMode::LW_SHARED, f)
    }

    /// The value without its lock, for the fields that are atomics of their own.
    pub fn unlocked(&self) -> Option<&'static T> {
        let at = self.at.load(Ordering::Acquire);
        unsafe { at.as_ref().map(|locked| &locked.value) }
    }
}

impl<T: 'static> Segment for Shared<T> {
    fn request(&self) {
        unsafe {
            pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Locked<T>>());
            pg_sys::RequestNamedLWLockTranche(self.name.as_ptr(), 1);
        }
    }

    unsafe fn startup(&self) {
        unsafe {
            let mut found = false;
            let at = pg_sys::ShmemInitStruct(
                self.name.as_ptr(),
                std::mem::size_of::<Locked<T>>(),
                &mut found,
            )
            .cast::<Locked<T>>();
            if !found {
                std::ptr::write_bytes(at, 0, 1);
                (*at).lock = &raw mut (*pg_sys::GetNamedLWLockTranche(self.name.as_ptr())).lock;
                (self.init)(&mut (*at).value);
            }
            self.at.store(at, Ordering::Release);
        }
    }
}

fn segments() -> Vec<&'static dyn Segment> {
    SEGMENTS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn shmem_request() {
    unsafe {
        if let Some(prev) = PREV_SHMEM_REQUEST {
            prev();
        }
    }
    for segment in segments() {
        segment.request();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn shmem_startup() {
    unsafe {
        if let Some(prev) = PREV_SHMEM_STARTUP {
            prev();
        }
        // AddinShmemInitLock is entry 21 of the main LWLock array (storage/lwlocknames.h)
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        for segment in segments() {
            segment.startup();
        }
        pg_sys::LWLockRelease(init_lock);
    }
}
