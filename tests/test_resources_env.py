"""available_memory reads the memory limits of the process's own cgroup (issue 15): fake
/proc/meminfo, /proc/self/cgroup and /sys/fs/cgroup trees under tmp_path, exact byte counts."""
import pytest

from refsim import resources

GiB = 2**30
V1_UNLIMITED = "9223372036854771712"  # what cgroup v1 writes for "no limit"


def fake_system(tmp_path, proc_cgroup, files, mem_available_kib=None):
    """Write a fake system under tmp_path: ``proc_cgroup`` as /proc/self/cgroup (None: no such
    file), ``files`` {path under /sys/fs/cgroup: content}, and a /proc/meminfo with
    ``MemAvailable`` (None: no such file). Returns the three paths _available_memory takes."""
    root = tmp_path / "sys" / "fs" / "cgroup"
    root.mkdir(parents=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n")
    cgroup = tmp_path / "proc_self_cgroup"
    if proc_cgroup is not None:
        cgroup.write_text(proc_cgroup)
    meminfo = tmp_path / "meminfo"
    if mem_available_kib is not None:
        meminfo.write_text(f"MemTotal:       99999999 kB\nMemFree:          123 kB\n"
                           f"MemAvailable:   {mem_available_kib} kB\n")
    return str(meminfo), str(cgroup), str(root)


def room(paths):
    """_cgroup_room of a fake system (the /proc/self/cgroup and /sys/fs/cgroup of ``paths``)."""
    return resources._cgroup_room(paths[1], paths[2])


def test_v2_reads_the_processs_own_cgroup_not_the_root(tmp_path):
    """cgroup v2 ``0::/job/step``: the limit of /sys/fs/cgroup/job/step (minus its usage)
    counts; the root's memory.max, which the old code read, is not this process's limit."""
    paths = fake_system(tmp_path, "0::/job/step\n", {
        "memory.max": "max", "memory.current": str(50 * GiB),
        "job/step/memory.max": str(2 * GiB), "job/step/memory.current": str(GiB // 2)})
    assert room(paths) == 2 * GiB - GiB // 2


def test_v2_nested_limits_the_smallest_room_of_every_level_counts(tmp_path):
    """Walking up from the process's cgroup: each level's limit minus its usage, the smallest
    wins, also when it is a parent's (its usage includes its other children) with a larger
    limit than the child's."""
    paths = fake_system(tmp_path, "0::/a/b/c\n", {
        "a/memory.max": "1000000", "a/memory.current": "900000",      # room 100 000
        "a/b/memory.max": "500000", "a/b/memory.current": "100000",   # room 400 000
        "a/b/c/memory.max": "max", "a/b/c/memory.current": "50000"})  # no limit
    assert room(paths) == 100_000
    # the child's room is the smallest when the parent has plenty left
    (tmp_path / "sys/fs/cgroup/a/memory.current").write_text("0\n")
    assert room(paths) == 400_000


def test_v2_in_a_cgroup_namespace_reads_the_root(tmp_path):
    """``0::/`` (a container with its own cgroup namespace): /sys/fs/cgroup itself is the
    process's cgroup, so its memory.max and memory.current give the room."""
    paths = fake_system(tmp_path, "0::/\n", {"memory.max": str(4 * GiB),
                                            "memory.current": str(GiB)})
    assert room(paths) == 3 * GiB


def test_max_everywhere_is_no_limit(tmp_path):
    """memory.max ``max`` at every level: no cgroup limit (None), and available_memory is
    MemAvailable alone."""
    paths = fake_system(tmp_path, "0::/u/s\n", {
        "memory.max": "max", "u/memory.max": "max", "u/s/memory.max": "max",
        "u/s/memory.current": "12345"}, mem_available_kib=2048)
    assert room(paths) is None
    assert resources._available_memory(*paths) == 2048 * 1024


def test_v1_memory_controller(tmp_path):
    """cgroup v1: the ``memory`` controller's line (here listed with another controller) names
    the cgroup under /sys/fs/cgroup/memory; v1's "unlimited" above it is no limit; other
    controllers' lines are ignored."""
    paths = fake_system(tmp_path, "9:name=systemd:/\n5:cpu,memory:/slurm/job42\n3:pids:/x\n", {
        "memory/memory.limit_in_bytes": V1_UNLIMITED, "memory/memory.usage_in_bytes": "77",
        "memory/slurm/memory.limit_in_bytes": V1_UNLIMITED,
        "memory/slurm/job42/memory.limit_in_bytes": str(8 * GiB),
        "memory/slurm/job42/memory.usage_in_bytes": str(3 * GiB),
        "pids/x/memory.limit_in_bytes": "1"})
    assert room(paths) == 5 * GiB


def test_hybrid_v1_and_v2_lines_take_the_smaller_room(tmp_path):
    """A hybrid system lists a v2 line and a v1 memory line: both hierarchies are read and
    the smaller room counts; a v2 tree with no memory files adds nothing."""
    files = {"memory/proc/7/memory.limit_in_bytes": "3000",
             "memory/proc/7/memory.usage_in_bytes": "1000"}
    paths = fake_system(tmp_path, "4:memory:/proc/7\n0::/\n", files)
    assert room(paths) == 2000
    (tmp_path / "sys/fs/cgroup/memory.max").write_text("1500\n")
    (tmp_path / "sys/fs/cgroup/memory.current").write_text("1000\n")
    assert room(paths) == 500


def test_missing_directories_and_files(tmp_path):
    """A cgroup path that does not exist here (a v1 container sees its own cgroup mounted as
    the hierarchy's root) falls back to the levels that do exist; a level whose usage file is
    missing is bounded by its limit; a level without a limit file is skipped."""
    paths = fake_system(tmp_path, "4:memory:/docker/0123abcd\n", {
        "memory/memory.limit_in_bytes": "1000000", "memory/memory.usage_in_bytes": "250000"})
    assert room(paths) == 750_000
    (tmp_path / "sys/fs/cgroup/memory/memory.usage_in_bytes").unlink()
    assert room(paths) == 1_000_000
    (tmp_path / "sys/fs/cgroup/memory/memory.limit_in_bytes").unlink()
    assert room(paths) is None


def test_usage_above_the_limit_leaves_no_room(tmp_path):
    """Usage above the limit (reclaimable page cache counts as usage) gives 0, never a
    negative number of bytes."""
    paths = fake_system(tmp_path, "0::/a\n", {"a/memory.max": "1000", "a/memory.current": "5000"},
                        mem_available_kib=10**6)
    assert room(paths) == 0
    assert resources._available_memory(*paths) == 0


def test_a_path_outside_the_namespace_reads_only_the_root(tmp_path):
    """``0::/../../other`` (a cgroup outside this namespace's view): only the hierarchy's root
    is read, never a directory above it."""
    paths = fake_system(tmp_path, "0::/../../other\n", {"memory.max": "9000",
                                                       "memory.current": "1000"})
    outside = tmp_path / "sys" / "other"
    outside.mkdir()
    (outside / "memory.max").write_text("10\n")
    assert room(paths) == 8000


@pytest.mark.parametrize("content", [None, "", "garbage without colons\n"])
def test_no_cgroup_at_all(tmp_path, content):
    """No /proc/self/cgroup (not Linux), an empty one, or one without a parsable line: no
    cgroup limit, even though /sys/fs/cgroup/memory.max has one (it is not known to be this
    process's); available_memory is MemAvailable."""
    paths = fake_system(tmp_path, content, {"memory.max": "10", "memory.current": "1"},
                        mem_available_kib=4096)
    assert room(paths) is None
    assert resources._available_memory(*paths) == 4096 * 1024


def test_the_smaller_of_memavailable_and_the_cgroup_room(tmp_path):
    """available_memory is min(MemAvailable, cgroup room): the cgroup room when it is
    smaller, MemAvailable when that is smaller; the room alone without /proc/meminfo's line
    (and without os.sysconf's free pages)."""
    files = {"j/memory.max": str(3 * GiB), "j/memory.current": str(GiB)}
    paths = fake_system(tmp_path, "0::/j\n", files, mem_available_kib=8 * 2**20)  # 8 GiB
    assert resources._available_memory(*paths) == 2 * GiB
    (tmp_path / "meminfo").write_text("MemAvailable:   1048576 kB\n")  # 1 GiB
    assert resources._available_memory(*paths) == GiB


def test_no_meminfo_and_no_sysconf_gives_the_cgroup_room(tmp_path, monkeypatch):
    """Without /proc/meminfo and os.sysconf's page counts the cgroup room is the answer; with
    neither known, None."""
    def no_sysconf(name):
        raise ValueError(name)
    monkeypatch.setattr(resources.os, "sysconf", no_sysconf)
    paths = fake_system(tmp_path, "0::/j\n", {"j/memory.max": "700", "j/memory.current": "200"})
    assert resources._available_memory(*paths) == 500
    (tmp_path / "proc_self_cgroup").unlink()
    assert resources._available_memory(*paths) is None


def test_available_memory_reads_the_real_files(monkeypatch):
    """available_memory is _available_memory of /proc/meminfo, /proc/self/cgroup (the
    process's own cgroup) and /sys/fs/cgroup."""
    calls = []
    monkeypatch.setattr(resources, "_available_memory", lambda *paths: calls.append(paths) or 123)
    assert resources.available_memory() == 123
    assert calls == [("/proc/meminfo", "/proc/self/cgroup", "/sys/fs/cgroup")]
