"""Child side, privileged part: enter namespaces, build the filesystem view, start the runner.

Loaded as a module by the template process (``_template.py``, a fresh ``python -I -B`` that
has imported numpy and torch and holds nothing secret), which forks one launcher per sandbox and
calls :func:`launch` in it with the configuration (JSON; stdlib and ``pyseccomp`` only, it must
not import ``autograder``). No host path is on any command line. Three processes result:

* launcher (forked by the template): join the sandbox's cgroup if the trusted side made one,
  ``unshare`` mount+net+pid+IPC+UTS namespaces (plus a user namespace when not root), fork the
  init, wait for it and exit with its status. It leads its own process group, which the trusted
  side kills: that kills it and the init.
* init (pid 1 of the new pid namespace): make the mounts (hidden paths covered, public paths bound
  read-only into a tmpfs workdir, fresh /proc with ``hidepid=2`` so the child sees only its
  own processes), fork the runner, reap orphans, and exit with the
  runner's status (``128 + signal`` if it was killed). When it exits the kernel kills every
  process left in the namespace: detached, double-forked and ``setsid`` descendants included.
* runner: rlimits, stdout/stderr to the capture file, a fresh session keyring, privileges
  dropped (setuid to the sandbox uid as root; a nested user namespace as non-root, which locks
  the mounts), every capability cleared, ``no_new_privs``, the seccomp filter
  (:func:`install_seccomp`), then ``_runner.main`` in the same process: no exec, so the
  template's imports are shared copy-on-write and the first cell does not wait for torch.

Isolation levels: ``root+namespaces``, ``userns`` (non-root), ``uid`` (root, no namespaces
possible: setuid + rlimits), ``none`` (rlimits and process group only). The seccomp filter holds
at every level. Only a failing ``unshare`` lowers the level; any later setup error is fatal (exit
status 121, reason on stderr).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import stat
import sys
import traceback
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
NAMESPACE_FLAGS = (
    CLONE_NEWNS,
    CLONE_NEWCGROUP,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SETUP_FAILED = 121
NESTED_UID = 1000
LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """libc ``unshare(2)`` (Python 3.11 has no ``os.unshare``)."""
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    """libc ``mount(2)``."""
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {source} on {target}")


def prctl(option: int, value: int) -> None:
    """libc ``prctl(2)`` with one argument."""
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _mount_flags(path: str) -> int:
    """The flags a read-only bind remount must keep (the kernel refuses to drop locked ones)."""
    f = os.statvfs(path).f_flag
    flags = 0
    for st_bit, ms_bit in (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if f & st_bit:
            flags |= ms_bit
    return flags


def bind_readonly(source: str, target: str) -> None:
    """Bind ``source`` (may be ``/proc/self/fd/N``) onto ``target`` and make it read-only."""
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _mount_flags(target))


def enter_namespaces(want: str) -> str:
    """Unshare what this platform allows and return the isolation level reached."""
    if want == "none":
        return "uid" if os.geteuid() == 0 else "none"
    if os.geteuid() == 0:
        try:
            unshare(NAMESPACES)
            return "root+namespaces"
        except OSError as exc:
            print(f"sandbox: namespaces unavailable as root ({exc})", file=sys.stderr)
            return "uid"
    uid, gid = os.getuid(), os.getgid()
    try:
        unshare(CLONE_NEWUSER | NAMESPACES)
    except OSError as exc:
        print(f"sandbox: user namespaces unavailable ({exc})", file=sys.stderr)
        return "none"
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")
    return "userns"


def hide(paths: list[str]) -> None:
    """Cover directories with an empty read-only mode-000 tmpfs, files with ``/dev/null``."""
    for path in paths:
        if not os.path.lexists(path):
            continue  # not in this view (covered by an ancestor's tmpfs): already hidden
        if os.path.isdir(path):
            mount(
                "tmpfs",
                path,
                "tmpfs",
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,nr_inodes=1,mode=000",
            )
        else:
            bind_readonly("/dev/null", path)


SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Host folders the child sees (read-only), besides the interpreter's own folders."""
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
NEW_ROOT = "/tmp"
"""Where the child's root is assembled (a fresh tmpfs; the host's /tmp is untouched)."""
LANDLOCK = {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446}
SYSCALLS = {
    "x86_64": {"pivot_root": 155, "keyctl": 250, **LANDLOCK},
    "aarch64": {"pivot_root": 41, "keyctl": 219, **LANDLOCK},
}
"""Numbers of the system calls glibc has no wrapper for."""
MNT_DETACH = 2
KEYCTL_JOIN_SESSION_KEYRING = 1


def _syscall(name: str, *args: Any) -> int:
    number = SYSCALLS.get(os.uname().machine, {}).get(name)
    if number is None:
        raise OSError(38, f"{name}: unknown system call number on {os.uname().machine}")
    return _libc.syscall(number, *args)


def pivot_root(new_root: str, put_old: str) -> None:
    """The ``pivot_root(2)`` system call."""
    _check(_syscall("pivot_root", new_root.encode(), put_old.encode()), "pivot_root")


def new_session_keyring() -> None:
    """Join a fresh anonymous session keyring: the grader's keys are out of reach."""
    result = _syscall("keyctl", KEYCTL_JOIN_SESSION_KEYRING, None)
    _check(0 if result >= 0 else result, "keyctl(JOIN_SESSION_KEYRING)")


DENIED_SYSCALLS = (
    # debugging and reading other processes (pidfd_getfd: an ancestor's fd, e.g. the template's
    # socket, where the child runs as the grader's own uid)
    "ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open", "pidfd_getfd", "kcmp",
    "process_madvise",
    # kernel keyrings
    "keyctl", "add_key", "request_key",
    # namespaces and mounts (a nested user namespace would bring a private tmpfs and new limits)
    "unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsmount", "fsconfig",
    "move_mount", "open_tree", "mount_setattr",
    # memory that no rlimit sees (RLIMIT_AS counts mappings only): SysV segments outlive their
    # mappings (and, without an IPC namespace, the sandbox), memfd pages are written, not mapped
    "shmget", "msgget", "semget", "memfd_create",
    # POSIX message queues: without an IPC namespace (uid, none) one outlives the sandbox, and
    # the next submission on the same uid reads it
    "mq_open",
    # kernel attack surface grading never needs
    "bpf", "userfaultfd", "io_uring_setup", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "acct", "swapon", "swapoff", "reboot",
)  # fmt: skip
AF_UNIX = 1


def seccomp_filter() -> Any:
    """The child's seccomp filter (``pyseccomp``): allow by default, deny with EPERM what grading
    never needs. Sockets other than ``AF_UNIX`` (internet, netlink, packet: no network even
    without a network namespace), clones into new namespaces, and the calls of
    ``DENIED_SYSCALLS``. ``clone3`` answers ENOSYS (its flags cannot be inspected), so libc
    falls back to ``clone``. Another architecture's system calls (x32, i386 on x86_64) kill the
    process."""
    import errno

    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        f.add_rule(deny, name)
    f.add_rule(deny, "socket", sc.Arg(0, sc.NE, AF_UNIX))
    for flag in NAMESPACE_FLAGS:
        f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    return f


def install_seccomp() -> None:
    """Load the filter into this process (needs ``no_new_privs``); it survives exec and fork."""
    seccomp_filter().load()


# Landlock (linux/landlock.h): filesystem rights handled, and scopes (ABI 6)
FS_WRITE_FILE, FS_REFER, FS_TRUNCATE = 1 << 1, 1 << 13, 1 << 14
FS_REMOVE_AND_MAKE = 0b111111111 << 4  # REMOVE_DIR, REMOVE_FILE, MAKE_CHAR ... MAKE_SYM
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full")
"""Files the child may still open for writing outside its workdir."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock (not built in, not enabled at boot,
    or its system calls refused by a container's seccomp profile)."""
    try:
        return max(_syscall("landlock_create_ruleset", None, ctypes.c_size_t(0), 1), 0)
    except OSError:  # no number for this architecture
        return 0


def confine_writes(workdir: str) -> int:
    """Landlock, in the runner at ``uid`` (no private /tmp): this process and its descendants may
    create, remove, rename or write files only under ``workdir`` (and write ``WRITABLE_DEVICES``),
    so nothing reaches a world-writable folder of the host; from ABI 6, they may neither connect
    to an abstract Unix socket nor signal a process outside their own Landlock domain (another
    sandbox, the host). Reading is left to file modes. Returns the ABI used, 0 where the kernel
    has no Landlock (then nothing is confined)."""
    abi = landlock_abi()
    if abi < 1:
        return 0
    handled = FS_WRITE_FILE | FS_REMOVE_AND_MAKE
    handled |= (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0)
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(handled, 0, scoped)
    size = ctypes.c_size_t(ctypes.sizeof(attr))
    ruleset = _syscall("landlock_create_ruleset", ctypes.byref(attr), size, 0)
    if ruleset < 0:
        _check(ruleset, "landlock_create_ruleset")
    try:
        rules = [(workdir, handled)]
        rules += [(d, handled & (FS_WRITE_FILE | FS_TRUNCATE)) for d in WRITABLE_DEVICES]
        for path, access in rules:
            if not os.path.exists(path):
                continue
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, fd)
                _check(_syscall("landlock_add_rule", ruleset, 1, ctypes.byref(rule), 0), path)
            finally:
                os.close(fd)
        _check(_syscall("landlock_restrict_self", ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


def _open_paths(paths: list[str]) -> dict[str, int]:
    """``O_PATH`` fds of the outermost existing ``paths`` (a path inside another is implied)."""
    kept: dict[str, int] = {}
    for path in sorted(set(paths), key=len):
        if os.path.exists(path) and not any(path.startswith(k + "/") for k in kept):
            kept[path] = os.open(path, os.O_PATH)
    return kept


def build_view(cfg: dict[str, Any], owner: tuple[int, int]) -> None:
    """The child's filesystem, from an allow-list: run in the init while it holds capabilities.

    A fresh root holds read-only binds of the system folders and the interpreter's folders, a
    few devices, a size-limited tmpfs for /tmp (also /var/tmp and /dev/shm) with the workdir in
    it, the public paths bound read-only into the workdir, and a fresh /proc. Nothing else of
    the host exists in it: not the project, not other checkouts, not /home, /run or /sys. The
    ``hide`` paths are covered where they fall inside an exposed folder (an installed package).
    Sources are opened (``O_PATH``) before anything is mounted; the old root is detached last.
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    public = {name: os.open(path, os.O_PATH) for name, path in cfg["public"].items()}
    files = {}
    for name, path in cfg["files"].items():
        with open(path, "rb") as f:
            files[name] = f.read()
    links = {p: os.readlink(p) for p in SYSTEM if os.path.islink(p)}
    kept = _open_paths([p for p in (*SYSTEM, *cfg["expose"]) if p not in links])
    devices = {d: os.open(d, os.O_PATH) for d in DEVICES if os.path.exists(d)}
    mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    scratch = NEW_ROOT + "/tmp"
    os.makedirs(scratch, mode=0o755)
    mount(
        "tmpfs",
        scratch,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={cfg['limits']['disk_mb']}m,nr_inodes=65536,mode=1777",
    )
    for path in ("/var/tmp", "/dev/shm"):
        os.makedirs(NEW_ROOT + path, mode=0o755, exist_ok=True)
        mount(scratch, NEW_ROOT + path, None, MS_BIND)
    # after the scratch tmpfs: an interpreter under /tmp (a venv in a clone there) stays
    for path, fd in kept.items():
        os.makedirs(NEW_ROOT + path, mode=0o755, exist_ok=True)
        bind_readonly(f"/proc/self/fd/{fd}", NEW_ROOT + path)
        os.close(fd)
    for path, target in links.items():
        os.symlink(target, NEW_ROOT + path)
    os.makedirs(NEW_ROOT + "/dev", mode=0o755, exist_ok=True)
    for path, fd in devices.items():
        open(NEW_ROOT + path, "w").close()
        mount(f"/proc/self/fd/{fd}", NEW_ROOT + path, None, MS_BIND)
        os.close(fd)
    hide([NEW_ROOT + p for p in cfg["hide"]])
    for path in ("/proc", "/.old"):
        os.makedirs(NEW_ROOT + path, mode=0o755)
    pivot_root(NEW_ROOT, NEW_ROOT + "/.old")
    os.chdir("/")
    # hidepid=2: the init (root, or not dumpable) and its command line are invisible
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
    work = cfg["workdir"]
    os.mkdir(work, 0o700)
    os.chown(work, *owner)
    for name, data in files.items():
        target = os.path.join(work, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
        os.chown(target, *owner)
    for name, fd in public.items():
        target = os.path.join(work, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(target, exist_ok=True)
        else:
            open(target, "wb").close()
        bind_readonly(f"/proc/self/fd/{fd}", target)
        os.close(fd)
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount /.old")
    os.rmdir("/.old")


def count_tasks(uid: int) -> int:
    """Processes + threads whose real uid is ``uid`` (RLIMIT_NPROC counts them all)."""
    count = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("Uid:") and int(line.split()[1]) == uid:
                            count += len(os.listdir(f"/proc/{pid}/task"))
                            break
            except (OSError, ValueError):
                continue
    return count


def set_limits(limits: dict[str, Any], nproc: int) -> None:
    """Every rlimit of the runner (soft = hard, so the child cannot raise them)."""
    mib = 1 << 20
    for which, value in (
        (resource.RLIMIT_AS, limits["memory_mb"] * mib),
        (resource.RLIMIT_CPU, limits["cpu_seconds"]),
        (resource.RLIMIT_NPROC, nproc),
        (resource.RLIMIT_FSIZE, limits["file_size_mb"] * mib),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))


def drop_capabilities() -> None:
    """Clear every capability of this process (``capset(2)``): the runner is not exec'd, so no
    exec clears them. As root the setuid to the sandbox uid already has; in a nested user
    namespace the process holds all of them until this."""
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: two words each, all 0
    _check(_libc.capset(header, data), "capset")


def drop_privileges(isolation: str, uid: int, gid: int) -> None:
    """Become the unprivileged sandbox user, with no capability left."""
    if isolation in ("root+namespaces", "uid"):
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    elif isolation == "userns":
        # A user+mount namespace owned by a less privileged user namespace locks every mount
        # made so far (umount fails with EINVAL); the capabilities it grants are cleared below.
        unshare(CLONE_NEWUSER | CLONE_NEWNS)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{NESTED_UID} 0 1")
        _write("/proc/self/gid_map", f"{NESTED_UID} 0 1")
    drop_capabilities()
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def start_runner(cfg: dict[str, Any], runner: Any, nproc: int) -> None:
    """In the forked runner: limits, fds, privileges, then the ``runner`` module's request loop
    in this process (never returns).

    Setup errors go to the jail's log (the trusted side reads it), not to the student's output.
    """
    log = os.dup(2)
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        prctl(PR_SET_DUMPABLE, 1)  # needed to write our own uid_map; the runner is untrusted anyway
        work = cfg["workdir"]
        os.chdir(work)
        fds = cfg["fds"]
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(fds["capture"], 1)
        os.dup2(fds["capture"], 2)
        keep = sorted({fds["req"], fds["rep"], log})
        for low, high in zip([2, *keep], [*keep, 1 << 16], strict=True):
            os.closerange(low + 1, high)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-size writes fail, not kill
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        set_limits(cfg["limits"], nproc)
        new_session_keyring()
        parent = os.getppid()
        drop_privileges(cfg["isolation"], cfg["uid"], cfg["gid"])
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # again: a change of uid cleared it
        if os.getppid() != parent:
            os._exit(SETUP_FAILED)
        landlock = confine_writes(work) if cfg["isolation"] == "uid" else 0
        install_seccomp()
        os.environ.clear()
        os.environ.update(cfg["env"], HOME=work, TMPDIR="/tmp" if cfg["view"] else work)
        runner_cfg = json.dumps(
            {
                "preload": cfg["preload"],
                "isolation": cfg["isolation"],
                "landlock": landlock,
                "req": fds["req"],
                "rep": fds["rep"],
            }
        )
        cfg.clear()  # the jail's host paths are none of the student's business
        sys.argv = ["-c", "<sandbox-runner>", runner_cfg]  # what an exec'd runner would see
    except BaseException:  # noqa: BLE001 - report anything, then fail the setup
        os.write(log, traceback.format_exc().encode())
        os._exit(SETUP_FAILED)
    os.close(log)
    try:
        runner.main(runner_cfg)
    except BaseException:  # noqa: BLE001 - as an uncaught exception ends an interpreter
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def plain_workdir(cfg: dict[str, Any], owner: tuple[int, int]) -> None:
    """Without a mount namespace: fill the host workdir (files copied, public paths symlinked)."""
    work = cfg["workdir"]
    for name, path in cfg["files"].items():
        target = os.path.join(work, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(path, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
    for name, path in cfg["public"].items():
        target = os.path.join(work, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(path, target)
    for root, dirs, names in os.walk(work):
        for name in [*dirs, *names]:
            os.lchown(os.path.join(root, name), *owner)
    os.chown(work, *owner)


def init(cfg: dict[str, Any], runner: Any, nproc: int) -> None:
    """Pid 1 of the namespace (or a plain child without one): set up, run, reap, exit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    owner = {
        "root+namespaces": (cfg["uid"], cfg["gid"]),
        "uid": (cfg["uid"], cfg["gid"]),
        "userns": (0, 0),
    }.get(cfg["isolation"], (os.getuid(), os.getgid()))
    cfg["view"] = cfg["isolation"] in ("root+namespaces", "userns")
    if cfg["view"]:
        cfg["workdir"] = cfg["view_workdir"]
        _check(_libc.sethostname(b"sandbox", 7), "sethostname")
        build_view(cfg, owner)
    else:
        cfg["workdir"] = cfg["host_workdir"]
        plain_workdir(cfg, owner)
    child = os.fork()
    if child == 0:
        start_runner(cfg, runner, nproc)
    for fd in cfg["fds"].values():
        os.close(fd)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def join_cgroups(folders: list[str]) -> None:
    """Move this process (and so every descendant) into the sandbox's cgroups."""
    for folder in folders:
        _write(os.path.join(folder, "cgroup.procs"), "0")


def launch(cfg: dict[str, Any], runner: Any) -> None:
    """Launcher (forked by the template, which imported ``pyseccomp`` and ``runner``): enter the
    cgroup and namespaces, fork the init and mirror its status (never returns)."""
    join_cgroups(cfg["cgroups"])
    try:
        _write("/proc/self/oom_score_adj", "1000")  # the OOM killer takes the child first
    except OSError:
        pass
    nproc = cfg["limits"]["processes"]
    if os.geteuid() != 0:
        nproc += count_tasks(os.getuid())  # NPROC also counts the grader's own tasks
    cfg["isolation"] = enter_namespaces(cfg["want"])
    prctl(PR_SET_DUMPABLE, 0)  # no process of the same uid may ptrace the init (userns mode)
    child = os.fork()
    if child == 0:
        try:
            init(cfg, runner, nproc)
        except BaseException:  # noqa: BLE001 - report anything, then fail the setup
            traceback.print_exc()
            os._exit(SETUP_FAILED)
    for fd in cfg["fds"].values():
        os.close(fd)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)
