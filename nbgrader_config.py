# nbgrader settings for instructors grading in this repository (see docs/INSTRUCTORS.md).
# `graders build` writes the nbgrader source notebooks to build/source; nbgrader's own folders
# (release, submitted, autograded, feedback) live under build/ too and are never committed.
# `make instructor` prepares build/ and starts JupyterLab from the repository root, so that the
# formgrader finds this file and its course directory (relative paths resolve from there).
from graders.nbgrader_plugin import configure

c = get_config()  # noqa: F821 - provided by nbgrader
configure(c)
c.CourseDirectory.root = "build"
