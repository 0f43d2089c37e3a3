import CKernels
import XCTest

@testable import Kernels

/// The arithmetic probe: finite, positive, and counting what it runs.
final class ComputePeakTests: XCTestCase {
    func testProbeReportsAPositiveRateOnEveryPath() {
        for portable in [false, true] {
            MatMul.forcePortable(portable)
            defer { MatMul.forcePortable(false) }
            let probe = ComputePeak(threads: 2, iterations: 20_000)
            // 12 chains of 8-lane multiply-adds (2 operations each) per iteration and thread,
            // or 12 scalar ones on the portable path (which a CK_PORTABLE_ONLY build always runs).
            let scalar = MatMul.activePath == "portable"
            if portable { XCTAssertTrue(scalar) }
            XCTAssertEqual(probe.flopsPerReading, 2 * 20_000 * (scalar ? 24 : 192), "portable \(portable)")
            let rate = probe.measure(repeats: 3)
            XCTAssertTrue(rate.isFinite && rate > 0, "portable \(portable): \(rate)")
        }
    }

    func testChainsStayFiniteForLongRuns() {
        // The chains converge to a fixed point instead of overflowing, whatever the length.
        for portable in [false, true] {
            MatMul.forcePortable(portable)
            defer { MatMul.forcePortable(false) }
            let sum = ck_fma_chains(200_000)
            XCTAssertTrue(sum.isFinite && sum > 0, "portable \(portable): \(sum)")
        }
    }
}
