#!/usr/bin/env bash
# Make the peer simulators' venvs that the validation scripts run (validation/peer_pythons.py):
#
#   $REFSIM_PEER_VENVS/bp312     Python 3.12: BrainPy 2.9 and the JAX it was validated with
#   $REFSIM_PEER_VENVS/peer313   Python 3.13: Brian2 2.11 and NEST 3.10 (PyPI wheel nest-simulator)
#
# REFSIM_PEER_VENVS defaults to .venvs at the repository root (ignored by git). Run from
# anywhere; needs access to PyPI, about 1.5 GB of disk, and g++ for Brian2's cpp_standalone.
#
#   validation/make_peer_venvs.sh                 # both
#   validation/make_peer_venvs.sh peer313         # one of them
#   validation/make_peer_venvs.sh --dry-run       # print the commands only
#
# The interpreters: $PYTHON312 / $PYTHON313, else python3.12 / python3.13 on PATH (with pyenv,
# e.g. PYTHON312="$(pyenv root)/versions/3.12.1/bin/python"). An existing venv is kept and the
# pins are installed into it. The pins are the versions the committed results were made with
# (validation/README.md, validation/brainpy/README.md, validation/peers/README.md).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${REFSIM_PEER_VENVS:-$REPO/.venvs}"

# BrainPy 2.9: brainpy needs Python 3.12; numba is brainevent's CPU kernel; the exact JAX
# matters (the tutorial preset reproduces what this XLA compiles, docs/validation.md).
BP312_PINS=(brainpy==2.9.0 brainstate==0.6.0 brainunit==0.6.0 saiunit==0.6.0 brainevent==0.3.0
            braintools==0.4.0 jax==0.12.0.1 jaxlib==0.12.0.1 numpy==2.5.5 numba==0.68.1
            llvmlite==0.50.0 scipy==1.18.1 optax==0.2.8 matplotlib==3.11.2 ml_dtypes==0.6.0)
# Brian2 2.11 and NEST 3.10 (the manylinux wheel; no source build).
PEER313_PINS=(--only-binary=nest-simulator brian2==2.11.0 nest-simulator==3.10.0 numpy==2.5.5 scipy==1.18.1 sympy==1.14.0
              Cython==3.3.1 matplotlib==3.11.2)

DRY=0
WHICH=()
for arg in "$@"; do
    case "$arg" in
        --dry-run|-n) DRY=1 ;;
        bp312|peer313) WHICH+=("$arg") ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (allowed: --dry-run, bp312, peer313)" >&2; exit 2 ;;
    esac
done
[ ${#WHICH[@]} -eq 0 ] && WHICH=(bp312 peer313)

run() {
    echo "+ $*"
    if [ "$DRY" -eq 0 ]; then "$@"; fi
}

find_python() {  # $1 = 3.12 or 3.13, $2 = the variable that may name it
    local given="${!2:-}"
    if [ -n "$given" ]; then echo "$given"; return; fi
    if command -v "python$1" >/dev/null 2>&1; then command -v "python$1"; return; fi
    if [ "$DRY" -eq 1 ]; then echo "python$1"; return; fi
    echo "no python$1 on PATH: install Python $1 or set $2" >&2
    exit 1
}

make_venv() {  # $1 = name, $2 = Python version, $3 = the variable naming its interpreter, rest = pins
    local name="$1" version="$2" var="$3"
    shift 3
    local py venv="$DIR/$name"
    py="$(find_python "$version" "$var")"
    if [ "$DRY" -eq 0 ] && ! "$py" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$version'.split('.')))"; then
        echo "$py is not Python $version" >&2
        exit 1
    fi
    if [ -x "$venv/bin/python" ]; then
        echo "$venv exists: installing the pins into it"
    else
        run "$py" -m venv "$venv"
    fi
    run "$venv/bin/python" -m pip install --upgrade pip
    run "$venv/bin/python" -m pip install "$@"
}

run mkdir -p "$DIR"
for name in "${WHICH[@]}"; do
    case "$name" in
        bp312) make_venv bp312 3.12 PYTHON312 "${BP312_PINS[@]}"
               run "$DIR/bp312/bin/python" -c "import brainpy, jax; print('brainpy', brainpy.__version__, 'jax', jax.__version__)" ;;
        peer313) make_venv peer313 3.13 PYTHON313 "${PEER313_PINS[@]}"
                 run "$DIR/peer313/bin/python" -c "import brian2, nest; print('brian2', brian2.__version__, 'nest', nest.__version__)"
                 command -v g++ >/dev/null 2>&1 || echo "warning: no g++ on PATH: Brian2's cpp_standalone device needs it" >&2 ;;
    esac
done
if [ "$DRY" -eq 0 ]; then
    echo "made: ${WHICH[*]} in $DIR"
    [ "$DIR" = "$REPO/.venvs" ] || echo "the scripts find them with: export REFSIM_PEER_VENVS=$DIR"
fi
