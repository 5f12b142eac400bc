// Public entry point of the switchboard package.
export {};
