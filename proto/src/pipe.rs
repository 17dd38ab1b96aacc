//! Who a Windows process runs as, and the named pipe only that user may open: the Windows
//! counterpart of the Unix socket's uid check and 0700 directory.
//!
//! Windows has no uids; a user is a security identifier (SID). The daemon's pipe carries a
//! DACL that grants access to the user's SID alone, refuses remote clients, and is created as
//! the first instance of its name (so nobody else's pipe can be joined); both ends then compare
//! the other process's token user with their own before a single request passes.
// The Win32 token calls have no safe wrapper in our dependencies; every block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{GetTokenInformation, TOKEN_QUERY, TOKEN_USER, TokenUser};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// The prefix of every local named pipe's path.
pub const PIPE_PREFIX: &str = r"\\.\pipe\";

/// The SDDL of the pipe's security descriptor: a protected DACL (no inherited entries) with one
/// entry granting `GENERIC_ALL` to `user_sid`; everyone else, administrators included, gets
/// nothing.
pub fn owner_only_sddl(user_sid: &str) -> String {
    format!("D:P(A;;GA;;;{user_sid})")
}

/// The SID of the user this process runs as, as text (`S-1-5-21-...`).
pub fn current_user_sid() -> io::Result<String> {
    // SAFETY: GetCurrentProcess returns a pseudo-handle; it is always valid and never closed.
    let process = unsafe { GetCurrentProcess() };
    token_user_sid(process)
}

/// The SID of the user process `pid` runs as. Fails when the process is gone or its token may
/// not be read by us (as for a process of another user), which callers treat as a mismatch.
pub fn process_user_sid(pid: u32) -> io::Result<String> {
    // SAFETY: plain call; a null result is checked before use.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return Err(io::Error::last_os_error());
    }
    let _process = OwnedHandle(process);
    token_user_sid(process)
}

/// Closes a handle we opened.
struct OwnedHandle(HANDLE);

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle was returned open by the OS to us and is closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

fn token_user_sid(process: HANDLE) -> io::Result<String> {
    let mut token: HANDLE = null_mut();
    // SAFETY: `process` is a valid process handle; `token` is a valid out pointer.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let _token = OwnedHandle(token);
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer, and `needed` is a valid out pointer. It fails with
    // ERROR_INSUFFICIENT_BUFFER by design and sets `needed`.
    unsafe { GetTokenInformation(token, TokenUser, null_mut(), 0, &mut needed) };
    if needed == 0 {
        return Err(io::Error::last_os_error());
    }
    // u64 cells keep the buffer aligned for TOKEN_USER and the SID behind it.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
    let size = u32::try_from(buffer.len() * 8).map_err(io::Error::other)?;
    // SAFETY: `buffer` is writable for `size` bytes and outlives the call.
    if unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            size,
            &mut needed,
        )
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer starts with an initialised, aligned TOKEN_USER whose SID
    // pointer points into the same buffer, which is alive until the end of this function.
    let user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };
    let mut text = null_mut();
    // SAFETY: the SID is valid (see above); `text` is a valid out pointer that receives a
    // LocalAlloc'ed, NUL-terminated UTF-16 string on success.
    if unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `text` is NUL-terminated (see above), read up to the NUL, then freed once.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let sid = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        sid
    };
    Ok(sid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipe_dacl_names_only_the_user() {
        assert_eq!(
            owner_only_sddl("S-1-5-21-1-2-3-1001"),
            "D:P(A;;GA;;;S-1-5-21-1-2-3-1001)"
        );
    }

    #[test]
    fn this_process_runs_as_a_user_sid() {
        let sid = current_user_sid().unwrap();
        assert!(sid.starts_with("S-1-"), "{sid}");
        assert_eq!(process_user_sid(std::process::id()).unwrap(), sid);
    }
}
