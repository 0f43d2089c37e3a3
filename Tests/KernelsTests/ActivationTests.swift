import Foundation
import XCTest

@testable import Kernels

/// The vectorised exp, sigmoid and tanh against double-precision libm, on both paths.
final class ActivationTests: XCTestCase {
    /// Arguments across the ranges the models use, plus the clamped extremes.
    let inputs: [Float] = (0..<4001).map { Float($0 - 2000) * 0.0441 } + [-200, -87.4, 88.4, 200, 0, -0.0, 1e-8]

    func check(portable: Bool) {
        MatMul.forcePortable(portable)
        defer { MatMul.forcePortable(false) }
        var e = inputs, s = inputs, t = inputs
        Activation.exp(&e, count: e.count)
        Activation.sigmoid(&s, count: s.count)
        Activation.tanh(&t, count: t.count)
        for (i, x) in inputs.enumerated() {
            let xd = Double(x)
            if xd > -87.3 && xd < 88.3 {
                let want = Foundation.exp(xd)
                XCTAssertEqual(Double(e[i]), want, accuracy: want * 3e-7, "exp(\(x)) portable \(portable)")
            }
            XCTAssertEqual(Double(s[i]), 1 / (1 + Foundation.exp(-xd)), accuracy: 2e-7, "sigmoid(\(x))")
            XCTAssertEqual(Double(t[i]), Foundation.tanh(xd), accuracy: 2e-7, "tanh(\(x))")
        }
    }

    func testMatchesLibmOnBothPaths() {
        check(portable: false)
        check(portable: true)
    }

    /// An element's value does not depend on the array's length (the ragged tail uses the same code).
    func testValuesDoNotDependOnArrayLength() {
        let xs: [Float] = (0..<29).map { Float($0) * 0.37 - 5 }
        var whole = xs
        Activation.sigmoid(&whole, count: whole.count)
        for n in 1...xs.count {
            var part = Array(xs.prefix(n))
            Activation.sigmoid(&part, count: n)
            XCTAssertEqual(part, Array(whole.prefix(n)), "length \(n)")
        }
    }
}
