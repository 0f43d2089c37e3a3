extension Array where Element == Int {
    /// The product of the elements, or nil if any is negative or the product overflows.
    ///
    /// Sizes read from a file are untrusted; multiplying them unchecked could trap.
    var checkedProduct: Int? {
        var p = 1
        for d in self {
            guard d >= 0 else { return nil }
            let (m, overflow) = p.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            p = m
        }
        return p
    }
}
