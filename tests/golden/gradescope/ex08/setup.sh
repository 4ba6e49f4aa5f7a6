#!/usr/bin/env bash

set -e

export DEBIAN_FRONTEND=noninteractive
apt-get clean
apt-get update
apt-get install -y wget  # to download Miniforge; no R or C build dependencies

# no PDF step in this zip: no LaTeX, no pandoc

# install mamba
if [ "$(uname -p)" = "arm" ] || [ "$(uname -p)" = "aarch64" ] ; \
    then wget -nv https://github.com/conda-forge/miniforge/releases/download/25.3.1-0/Miniforge3-Linux-aarch64.sh \
        -O /autograder/source/mamba_install.sh ; \
    else wget -nv https://github.com/conda-forge/miniforge/releases/download/25.3.1-0/Miniforge3-Linux-x86_64.sh \
        -O /autograder/source/mamba_install.sh ; \
fi
chmod +x /autograder/source/mamba_install.sh
/autograder/source/mamba_install.sh -b
echo "export PATH=/root/miniforge3/bin:\$PATH" >> /root/.bashrc

export PATH=/root/miniforge3/bin:$PATH
export TAR="/bin/tar"

# install dependencies with mamba
mamba env create -f /autograder/source/environment.yml
# no Playwright browsers or their system libraries: no PDF export, no notebook kernel

# set mamba shell
mamba shell init --shell bash

# ---- the trusted grader (added by `autograder build ex08`; everything above is otter's) ----
# The grading step (run_autograder) runs our grader in the conda environment made above; the
# submission's code runs in a child process as the unprivileged user created here.
python=/root/miniforge3/envs/otter-env/bin/python

# The unprivileged user of the sandboxed child (uid = gid = 61000: the sandbox's slot 0).
if ! getent group 61000 >/dev/null; then
    groupadd --gid 61000 ag-sandbox
fi
if ! getent passwd 61000 >/dev/null; then
    useradd --uid 61000 --gid 61000 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ag-sandbox
fi

# The child must start the environment's interpreter: its ancestors (/root is mode 700) become
# traversable but not listable; the environment itself is readable, not writable, by others.
chmod o+x /root /root/miniforge3 /root/miniforge3/envs
chmod -R o+rX,go-w /root/miniforge3/envs/otter-env

# Our source, grader.yml, hidden tests and reference: root only. Public data: readable by all.
chown -R root:root /autograder/source
chmod -R go-rwx /autograder/source
chmod 711 /autograder/source
chmod go+x /autograder/source/solutions
chmod go+x /autograder/source/solutions/ex08
chmod -R go+rX /autograder/source/solutions/ex08/data

# Fail the image build now, not at the first submission: the grader imports in the environment,
# torch (when the assignment needs it) is the CPU build, libseccomp loads (the sandbox's seccomp
# filter), the child's user can run the interpreter but cannot read the grader.
PYTHONPATH=/autograder/source "$python" -c \
    "import autograder.gradescope, autograder.grading, otter, pyseccomp, torch; assert torch.version.cuda is None, 'CUDA torch'"
runuser -u ag-sandbox -- "$python" -I -c "import numpy, torch"
if runuser -u ag-sandbox -- cat /autograder/source/grader.yml >/dev/null 2>&1; then
    echo "setup.sh: the sandbox user can read /autograder/source/grader.yml" >&2
    exit 1
fi
