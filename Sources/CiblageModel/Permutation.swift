extension Array {
    /// Reorders the array in place so that `self[r]` becomes the former `self[order[r]]`
    /// (`order` a permutation of the indices): each cycle of the permutation is followed once,
    /// so that no second array of the elements is made (lists of large records, sorted by a key
    /// read from the store). The elements are moved, never copied: swapped, each line of the
    /// national ranked list was copied (its strings retained and released) three times, 25 ms
    /// on one core while the other waited.
    @inlinable
    public mutating func permute(to order: [Int]) {
        let n = count
        precondition(order.count == n, "une permutation de \(n) positions est attendue")
        var placed = [Bool](repeating: false, count: n)
        withUnsafeMutableBufferPointer { elements in
            guard let base = elements.baseAddress else { return }
            for start in elements.indices where !placed[start] {
                // The cycle's first element is held while the others move up one place each.
                let held = (base + start).move()
                var r = start
                while true {
                    placed[r] = true
                    let source = order[r]
                    if source == start {
                        (base + r).initialize(to: held)
                        break
                    }
                    // Checked before moving: a position taken twice would move an element out twice.
                    precondition(source >= 0 && source < n && !placed[source], "une permutation de \(n) positions est attendue")
                    (base + r).moveInitialize(from: base + source, count: 1)
                    r = source
                }
            }
        }
    }
}
