"""Scene makers: real meshes rendered into datasets other tools can read."""
