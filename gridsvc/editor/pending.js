// Edits made in the editor but not saved yet, with undo and redo.

export class Pending {
  constructor(onChange) {
    this.edits = [];
    this.undone = [];
    this.onChange = onChange;
  }

  push(edit) {
    this.edits.push(edit);
    this.undone = [];
    return this.onChange();
  }

  undo() {
    if (!this.edits.length) return Promise.resolve();
    this.undone.push(this.edits.pop());
    return this.onChange();
  }

  redo() {
    if (!this.undone.length) return Promise.resolve();
    this.edits.push(this.undone.pop());
    return this.onChange();
  }

  // Drop the newest edit for good (the server refused it).
  drop() {
    this.edits.pop();
  }

  // The first ``n`` edits were saved.
  saved(n) {
    this.edits.splice(0, n);
  }

  clear() {
    this.edits = [];
    this.undone = [];
  }
}
