
# ---- the trusted grader (added by `autograder build ${assignment}`; everything above is otter's) ----
# The grading step (run_autograder) runs our grader in the conda environment made above; the
# submission's code runs in a child process as the unprivileged user created here.
python=${python}

# The unprivileged user of the sandboxed child (uid = gid = ${uid}: the sandbox's slot 0).
if ! getent group ${uid} >/dev/null; then
    groupadd --gid ${uid} ${user}
fi
if ! getent passwd ${uid} >/dev/null; then
    useradd --uid ${uid} --gid ${uid} --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ${user}
fi

# The child must start the environment's interpreter: its ancestors (/root is mode 700) become
# traversable but not listable; the environment itself is readable, not writable, by others.
chmod o+x ${traverse}
chmod -R o+rX,go-w ${env}

# Our source, grader.yml, hidden tests and reference: root only. Public data: readable by all.
chown -R root:root ${source}
chmod -R go-rwx ${source}
chmod 711 ${source}
${public}

# Fail the image build now, not at the first submission: the grader imports in the environment,
# torch (when the assignment needs it) is the CPU build, libseccomp loads (the sandbox's seccomp
# filter), the child's user can run the interpreter but cannot read the grader.
PYTHONPATH=${source} "$$python" -c \
    "${check}"
runuser -u ${user} -- "$$python" -I -c "import ${child}"
if runuser -u ${user} -- cat ${source}/grader.yml >/dev/null 2>&1; then
    echo "setup.sh: the sandbox user can read ${source}/grader.yml" >&2
    exit 1
fi
