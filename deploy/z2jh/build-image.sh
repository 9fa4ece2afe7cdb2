#!/usr/bin/env bash
# The single-user image for deploy/z2jh/values.yaml, built from binder/ by repo2docker (which reads
# binder/environment.yml, binder/apt.txt and binder/postBuild before anything at the top level).
#   pip install jupyter-repo2docker && deploy/z2jh/build-image.sh [TAG]
# The repository goes to /srv/course, not the home folder: Zero to JupyterHub mounts each user's
# volume over /home/jovyan, which would hide an editable install of graders/ there.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=ghcr.io/ai-safety-course/ai-safety-engineering-singleuser
TAG=${1:-$(git rev-parse --short=12 HEAD)}
repo2docker --no-run --user-name jovyan --user-id 1000 --target-repo-dir /srv/course \
    --image-name "$IMAGE:$TAG" .
echo "built $IMAGE:$TAG: set singleuser.image.tag to $TAG in deploy/z2jh/values.yaml, then push it"
