// e2e tests start servers and move real images: give them room (project-level testTimeout is not honoured).
jest.setTimeout(300_000);
