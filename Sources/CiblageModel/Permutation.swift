extension Array {
    /// Reorders the array in place so that `self[r]` becomes the former `self[order[r]]`
    /// (`order` a permutation of the indices): each cycle of the permutation is followed once,
    /// so that no second array of the elements is made (lists of large records, sorted by a key
    /// read from the store).
    public mutating func permute(to order: [Int]) {
        precondition(order.count == count, "une permutation de \(count) positions est attendue")
        var placed = [Bool](repeating: false, count: count)
        for start in indices where !placed[start] {
            var r = start
            while true {
                placed[r] = true
                let source = order[r]
                if source == start { break }
                swapAt(r, source)
                r = source
            }
        }
    }
}
