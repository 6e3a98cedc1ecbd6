// Integration tests talk to real servers: give hooks and tests room (Jest ignores testTimeout per project).
jest.setTimeout(180_000);
