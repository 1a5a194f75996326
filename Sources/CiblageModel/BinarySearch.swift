/// The first position of `0..<count` where `isBelow` is false, for an `isBelow` true on a prefix
/// of the positions and false after it (`count` when true everywhere): a binary search, in
/// O(log count) calls of `isBelow`.
public func partitionPoint(_ count: Int, _ isBelow: (Int) -> Bool) -> Int {
    var low = 0
    var high = count
    while low < high {
        let mid = (low + high) / 2
        if isBelow(mid) { low = mid + 1 } else { high = mid }
    }
    return low
}
