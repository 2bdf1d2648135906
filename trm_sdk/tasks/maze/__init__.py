"""The Maze task (Maze-Hard, 30x30): codec, generator, data loaders, symmetries and the runtime adapter."""
