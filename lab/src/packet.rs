//! Raw Ethernet frames on one interface (`AF_PACKET`, Linux only): what `hb_wire` reads and
//! writes at each end of its cable, with a receive buffer sized for bursts and the kernel's
//! own count of the frames it dropped there (`PACKET_STATISTICS`). One system call per
//! function, as socket2 keeps them.

use std::io;

/// A raw `AF_PACKET` socket bound to one interface.
pub struct Raw {
    fd: i32,
}

impl Raw {
    /// Open a raw socket on interface `name` for every protocol (`ETH_P_ALL`).
    #[cfg(target_os = "linux")]
    pub fn open(name: &str) -> io::Result<Raw> {
        let cname = std::ffi::CString::new(name).map_err(io::Error::other)?;
        // SAFETY: plain libc calls on a NUL-terminated name and a zeroed sockaddr_ll.
        unsafe {
            let index = libc::if_nametoindex(cname.as_ptr()) as i32;
            if index == 0 {
                return Err(io::Error::last_os_error());
            }
            let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto as u16;
            sll.sll_ifindex = index;
            let len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            if libc::bind(fd, &sll as *const _ as *const libc::sockaddr, len) < 0 {
                let e = io::Error::last_os_error();
                libc::close(fd);
                return Err(e);
            }
            // Room for a burst while the reader is off the processor: 4 MiB (root may
            // pass rmem_max with SO_RCVBUFFORCE; the plain option is the fallback).
            let size: libc::c_int = 4 << 20;
            let p = &size as *const libc::c_int as *const libc::c_void;
            let n = std::mem::size_of::<libc::c_int>() as u32;
            if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, p, n) < 0 {
                libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, p, n);
            }
            Ok(Raw { fd })
        }
    }

    /// Frames the kernel dropped on this socket since the last call (its receive buffer
    /// was full): `PACKET_STATISTICS`, which resets as it is read.
    #[cfg(target_os = "linux")]
    pub fn drops(&self) -> io::Result<u64> {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as u32;
        // SAFETY: st and len are valid for the size given.
        let r = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(u64::from(st.tp_drops))
    }

    /// Read one frame: `Some(len)`, or `None` for a frame going out of this interface
    /// (one the wire itself sent: `PACKET_OUTGOING`).
    #[cfg(target_os = "linux")]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf and sll are valid for the lengths given.
        unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            let n = libc::recvfrom(
                self.fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                &mut sll as *mut _ as *mut libc::sockaddr,
                &mut len,
            );
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok((sll.sll_pkttype != libc::PACKET_OUTGOING).then_some(n as usize))
        }
    }

    /// Write one whole frame out of the interface.
    #[cfg(target_os = "linux")]
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: frame is valid for its length; the socket is bound to one interface.
        let n = unsafe { libc::send(self.fd, frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Not on this system: `AF_PACKET` is Linux's.
    #[cfg(not(target_os = "linux"))]
    pub fn open(_name: &str) -> io::Result<Raw> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "raw Ethernet frames (AF_PACKET) need Linux",
        ))
    }

    /// Not on this system.
    #[cfg(not(target_os = "linux"))]
    pub fn drops(&self) -> io::Result<u64> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Not on this system.
    #[cfg(not(target_os = "linux"))]
    pub fn recv(&self, _buf: &mut [u8]) -> io::Result<Option<usize>> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Not on this system.
    #[cfg(not(target_os = "linux"))]
    pub fn send(&self, _frame: &[u8]) -> io::Result<()> {
        let _ = self.fd;
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: fd is ours and closed once.
        unsafe {
            libc::close(self.fd);
        }
    }
}
